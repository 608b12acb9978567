// How Metaflow's Argo Workflows integration reads @trigger(event=...): which events, and
// which payload field sets which parameter. A fact of the IR, read the same way by the
// checks (which refuse bad mappings) and the plan (which bakes the mappings in).
import type { Problem } from "../base/problems.js";
import type { FlowIR, ParameterIR } from "./schema.js";

/** Event names Metaflow's Argo Workflows integration accepts. */
export const EVENT_NAME = /^[A-Za-z0-9_.-]+$/;

export interface EventMapping {
  name: string;
  /** Parameter name (as the start op's config calls it) -> payload field. */
  parameters: [string, string][];
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
