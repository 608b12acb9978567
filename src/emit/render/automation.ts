// After the job: its ScheduleDefinition and sensors, then `defs`. Schedules and sensors
// start RUNNING, as Metaflow's production schedulers activate them on deploy.
import type { AutomationPlan, SensorPlan } from "../../plan/types.js";
import { pyCall, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";
import { docSafe } from "./text.js";

function sensorDef(w: Writer, job: string, sensor: SensorPlan): void {
  const kwargs: [string, PyValue][] = [
    ["name", sensor.name],
    ["job", pyRaw(job)],
    ["default_status", pyRaw("DefaultSensorStatus.RUNNING")],
    ["description", sensor.description],
  ];
  w.blank(2);
  w.line("@" + pyLiteral(pyCall("sensor", [], kwargs), { indent: w.currentIndent, prefixWidth: 1 }));
  w.block(`def ${sensor.attr}(context: SensorEvaluationContext) -> SensorResult:`, () => {
    w.line(`"""${docSafe(sensor.docstring)}"""`);
    const body = pyCall(sensor.check, [pyRaw("context"), pyRaw("FLOW"), ...sensor.args]);
    w.line("return " + pyLiteral(body, { indent: w.currentIndent, prefixWidth: 7 }));
  });
}

export function renderAutomation(job: string, plan: AutomationPlan, w: Writer): void {
  const schedule = plan.schedule;
  if (schedule !== null) {
    const kwargs: [string, PyValue][] = [
      ["name", schedule.name],
      ["job", pyRaw(job)],
      ["cron_schedule", schedule.cron],
    ];
    if (schedule.timezone !== null) kwargs.push(["execution_timezone", schedule.timezone]);
    kwargs.push(["default_status", pyRaw("DefaultScheduleStatus.RUNNING")]);
    kwargs.push(["description", schedule.description]);
    const prefix = `${schedule.attr} = `;
    w.blank(2);
    w.line(prefix + pyLiteral(pyCall("ScheduleDefinition", [], kwargs), { indent: w.currentIndent, prefixWidth: prefix.length }));
  }
  for (const sensor of plan.sensors) sensorDef(w, job, sensor);
  const kwargs: [string, PyValue][] = [["jobs", [pyRaw(job)]]];
  if (plan.assets !== null) kwargs.push(["assets", pyCall(plan.assets, [pyRaw("FLOW")])]);
  if (schedule !== null) kwargs.push(["schedules", [pyRaw(schedule.attr)]]);
  if (plan.sensors.length > 0) kwargs.push(["sensors", plan.sensors.map((s) => pyRaw(s.attr))]);
  w.blank(2);
  w.line("defs = " + pyLiteral(pyCall("Definitions", [], kwargs), { indent: w.currentIndent, prefixWidth: 7 }));
}
