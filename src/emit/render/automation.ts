// Schedules and sensors (@schedule, @trigger, @trigger_on_finish) and the module's
// `defs = Definitions(...)`. The sensors' logic lives in the runtime (upstream_finished,
// events_arrived); the generated code only wires them to the job.
import type { FlowIR } from "../../ir/index.js";
import { planSchedule } from "../../plan/schedule.js";
import { jobTags } from "../../plan/tags.js";
import { planEventTrigger, planFinishTrigger } from "../../plan/triggers.js";
import type { JobPlan } from "../../plan/types.js";
import { pyCall, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";
import { docSafe } from "./module.js";

/** Names the generated module imports from dagster for its schedules and sensors. */
export function automationImports(ir: FlowIR): string[] {
  const names: string[] = [];
  const a = ir.automation;
  if (a.schedule !== null) names.push("DefaultScheduleStatus", "ScheduleDefinition");
  if (a.events !== null || a.onFinish !== null) {
    names.push("DefaultSensorStatus", "SensorEvaluationContext", "SensorResult", "sensor");
  }
  return names;
}

/** Extra job tags (`dagster/max_runtime`, @project), merged into the job decorator's. */
export { jobTags };

function decorated(w: Writer, call: PyValue): void {
  w.line("@" + pyLiteral(call, { indent: w.currentIndent, prefixWidth: 1 }));
}

function sensorDef(
  w: Writer,
  fn: string,
  kwargs: [string, PyValue][],
  doc: string,
  body: PyValue,
): void {
  w.blank(2);
  decorated(w, pyCall("sensor", [], kwargs));
  w.block(`def ${fn}(context: SensorEvaluationContext) -> SensorResult:`, () => {
    w.line(`"""${docSafe(doc)}"""`);
    w.line("return " + pyLiteral(body, { indent: w.currentIndent, prefixWidth: 7 }));
  });
}

/**
 * After the job: its ScheduleDefinition and sensors, then `defs`. Schedules and sensors
 * start RUNNING, as Metaflow's production schedulers activate them on deploy.
 */
export function renderAutomation(ir: FlowIR, plan: JobPlan, w: Writer): void {
  const job = plan.jobAttr;
  const schedules: string[] = [];
  const sensors: string[] = [];
  const schedule = planSchedule(ir, job, plan.jobName);
  if (schedule !== null) {
    const kwargs: [string, PyValue][] = [
      ["name", schedule.name],
      ["job", pyRaw(job)],
      ["cron_schedule", schedule.cron],
    ];
    if (schedule.timezone !== null) kwargs.push(["execution_timezone", schedule.timezone]);
    kwargs.push(["default_status", pyRaw("DefaultScheduleStatus.RUNNING")]);
    kwargs.push(["description", `Metaflow @schedule: ${schedule.source}`]);
    const prefix = `${schedule.attr} = `;
    w.blank(2);
    w.line(prefix + pyLiteral(pyCall("ScheduleDefinition", [], kwargs), { indent: w.currentIndent, prefixWidth: prefix.length }));
    schedules.push(schedule.attr);
  }
  const sensorKwargs = (name: string, description: string): [string, PyValue][] => [
    ["name", name],
    ["job", pyRaw(job)],
    ["default_status", pyRaw("DefaultSensorStatus.RUNNING")],
    ["description", description],
  ];
  const onFinish = planFinishTrigger(ir, job, plan.jobName);
  if (onFinish !== null) {
    const what = onFinish.flows.join(", ");
    sensorDef(
      w,
      onFinish.attr,
      sensorKwargs(onFinish.name, `Metaflow @trigger_on_finish: ${what}`),
      `Start ${ir.flow.name} once ${what} finished successfully (@trigger_on_finish).`,
      pyCall("upstream_finished", [pyRaw("context"), pyRaw("FLOW")]),
    );
    sensors.push(onFinish.attr);
  }
  const events = planEventTrigger(ir, job, plan.jobName);
  if (events !== null) {
    const names = events.events.map((e) => e.name).join(", ");
    const startOp = plan.ops.find((op) => op.takesConfig)?.fn ?? null;
    sensorDef(
      w,
      events.attr,
      sensorKwargs(events.name, `Metaflow @trigger: ${names}`),
      `Start ${ir.flow.name} when the Metaflow events ${names} arrive (@trigger).`,
      pyCall("events_arrived", [pyRaw("context"), pyRaw("FLOW"), startOp]),
    );
    sensors.push(events.attr);
  }
  const kwargs: [string, PyValue][] = [["jobs", [pyRaw(job)]]];
  if (schedules.length > 0) kwargs.push(["schedules", schedules.map((s) => pyRaw(s))]);
  if (sensors.length > 0) kwargs.push(["sensors", sensors.map((s) => pyRaw(s))]);
  w.blank(2);
  w.line("defs = " + pyLiteral(pyCall("Definitions", [], kwargs), { indent: w.currentIndent, prefixWidth: 7 }));
}
