// @trigger and @trigger_on_finish -> Dagster sensors (see emit/render/automation.ts).
//
// @trigger(event=...): a Metaflow event is a Dagster asset event on the asset key
// ["metaflow_event", <event name>]; its metadata entries are the event's payload fields.
// @trigger_on_finish(flow=...): the upstream flow's Dagster job (named like ours, @project
// aware) finishing successfully. With several events or flows, a run starts once each
// of them happened since the last run (Argo Events' default: all dependencies).
import type { FlowIR, ParameterIR } from "../ir/index.js";
import type { Problem } from "../validate/errors.js";

/** Event names Metaflow's Argo Workflows integration accepts. */
export const EVENT_NAME = /^[A-Za-z0-9_.-]+$/;

export interface EventMapping {
  name: string;
  /** Parameter name (as the start op's config calls it) -> payload field. */
  parameters: [string, string][];
}

export interface EventTriggerPlan {
  /** Module attribute (the sensor function). */
  attr: string;
  /** Dagster sensor name. */
  name: string;
  events: EventMapping[];
}

export interface FinishTriggerPlan {
  attr: string;
  name: string;
  /** Upstream Dagster job names, in decorator order. */
  upstream: string[];
  flows: string[];
}

/**
 * Payload field mapping per event, as Metaflow's Argo integration resolves it:
 * parameter names are case-insensitive; one event without an explicit mapping maps
 * every parameter to the payload field of the same (lower-case) name.
 */
export function resolveEventMappings(ir: FlowIR): { events: EventMapping[]; problems: Problem[] } {
  const source = ir.automation.events;
  if (source === null) return { events: [], problems: [] };
  const problems: Problem[] = [];
  const byLower = new Map<string, ParameterIR>(ir.parameters.map((p) => [p.name.toLowerCase(), p]));
  const seen = new Set<string>();
  const events = source.events.map((event): EventMapping => {
    const parameters: [string, string][] = [];
    for (const [param, field] of Object.entries(event.parameters)) {
      const found = byLower.get(param.toLowerCase());
      if (found === undefined) {
        problems.push({
          decorator: "trigger",
          message: `event '${event.name}' maps payload field '${field}' to parameter '${param}', which the flow does not have`,
        });
        continue;
      }
      if (seen.has(found.name)) {
        problems.push({
          decorator: "trigger",
          message: `parameter '${found.name}' is mapped from more than one event field`,
        });
        continue;
      }
      seen.add(found.name);
      parameters.push([found.name, field]);
    }
    return { name: event.name, parameters };
  });
  const only = events[0];
  if (events.length === 1 && only !== undefined && Object.keys(source.events[0]?.parameters ?? {}).length === 0) {
    only.parameters = ir.parameters.map((p) => [p.name, p.name.toLowerCase()]);
  }
  return { events, problems };
}

export function planEventTrigger(ir: FlowIR, jobAttr: string, jobName: string): EventTriggerPlan | null {
  if (ir.automation.events === null) return null;
  return { attr: `${jobAttr}_on_events`, name: `${jobName}_on_events`, events: resolveEventMappings(ir).events };
}

export function planFinishTrigger(ir: FlowIR, jobAttr: string, jobName: string): FinishTriggerPlan | null {
  const source = ir.automation.onFinish;
  if (source === null) return null;
  return {
    attr: `${jobAttr}_on_finish`,
    name: `${jobName}_on_finish`,
    upstream: source.flows.map((f) => f.jobName),
    flows: source.flows.map((f) => [f.project, f.branch, f.flow].filter((v) => v !== null).join(".")),
  };
}
