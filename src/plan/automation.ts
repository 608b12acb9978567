// Pass 6: @schedule, @trigger and @trigger_on_finish as a Dagster schedule and sensors.
// The sensors' logic lives in the runtime (upstream_finished, events_arrived); the
// generated code only wires them to the job.
//
// @trigger(event=...): a Metaflow event is a Dagster asset event on the asset key
// ["metaflow_event", <event name>]; its metadata entries are the event's payload fields.
// @trigger_on_finish(flow=...): the upstream flow's Dagster job (named like ours, @project
// aware) finishing successfully. With several events or flows, a run starts once each
// of them happened since the last run (Argo Events' default: all dependencies).
import { toDagsterCron } from "../base/cron.js";
import type { FlowIR } from "../ir/index.js";
import { ASSET_SPECS, EVENTS_ARRIVED, FLOW_ASSETS, LOST_RUNS, UPSTREAM_FINISHED } from "./runtime_api.js";
import type { AutomationPlan, NamePlan, OpPlan, SchedulePlan, SensorPlan } from "./types.js";

/** The schedule of the flow, or null. Runs after validation (which refuses bad crons). */
function schedule(ir: FlowIR, names: NamePlan): SchedulePlan | null {
  const source = ir.automation.schedule;
  if (source === null) return null;
  const cron = toDagsterCron(source.expression);
  if (!cron.ok) throw new Error(`unvalidated schedule: ${cron.reason}`);
  return {
    ...names.schedule,
    cron: cron.cron,
    timezone: source.timezone,
    description: `Metaflow @schedule: ${source.expression}`,
  };
}

function onFinish(ir: FlowIR, names: NamePlan): SensorPlan | null {
  const source = ir.automation.onFinish;
  if (source === null) return null;
  const what = source.flows.map((f) => [f.project, f.branch, f.flow].filter((v) => v !== null).join(".")).join(", ");
  return {
    ...names.onFinish,
    description: `Metaflow @trigger_on_finish: ${what}`,
    docstring: `Start ${ir.flow.name} once ${what} finished successfully (@trigger_on_finish).`,
    check: UPSTREAM_FINISHED,
    args: [],
  };
}

function onEvents(ir: FlowIR, names: NamePlan, ops: readonly OpPlan[]): SensorPlan | null {
  const source = ir.automation.events;
  if (source === null) return null;
  const what = source.events.map((e) => e.name).join(", ");
  // The start op, whose config the events' payloads fill (None without parameters).
  const startOp = ops.find((op) => op.config !== null)?.fn ?? null;
  return {
    ...names.onEvents,
    description: `Metaflow @trigger: ${what}`,
    docstring: `Start ${ir.flow.name} when the Metaflow events ${what} arrive (@trigger).`,
    check: EVENTS_ARRIVED,
    args: [startOp],
  };
}

// A run of the thread executor reports from its process every few seconds (a run tag);
// a run that stopped reporting lost its machine (a Celery run launcher's worker, say,
// whose loss dagster-celery's run monitoring cannot see): this sensor fails it.
function lostRuns(ir: FlowIR, names: NamePlan): SensorPlan | null {
  const { kind, lostRunAfter } = ir.deploy.executor;
  if (kind !== "threads" || lostRunAfter === undefined || lostRunAfter === null) return null;
  return {
    ...names.lostRuns,
    description: `Fails runs of ${names.jobName} whose process stopped reporting for ${lostRunAfter} s (--lost-run-after)`,
    docstring: `Fail the runs of ${ir.flow.name} whose machine was lost (--lost-run-after).`,
    check: LOST_RUNS,
    args: [names.jobName],
  };
}

export function planAutomation(ir: FlowIR, names: NamePlan, ops: readonly OpPlan[]): AutomationPlan {
  const sensors = [onFinish(ir, names), onEvents(ir, names, ops), lostRuns(ir, names)].filter((s) => s !== null);
  return { schedule: schedule(ir, names), sensors, assets: ir.deploy.assets === null ? null : ASSET_SPECS };
}

/** The runtime names the sensors and `defs` call. */
export function automationRuntimeNames(automation: AutomationPlan): string[] {
  const names = automation.sensors.map((s) => s.check);
  return automation.assets === null ? names : [...names, automation.assets, FLOW_ASSETS];
}
