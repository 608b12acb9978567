// Dagster tags that show a step's and a flow's Metaflow decorators in the UI.
import type { FlowIR, StepIR } from "../ir/index.js";

/** @resources attributes shown as op tags; they reserve nothing on a Dagster worker. */
const RESOURCE_ATTRIBUTES = ["cpu", "gpu", "memory", "disk", "shared_memory"] as const;

function tagValue(value: unknown): string | null {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/**
 * Op tags for a step: `metaflow/resources.<attr>` for each @resources attribute that has
 * a value (Dagster allows a single `/` in a tag key), and `metaflow/timeout` (seconds)
 * when the step has a @timeout (the op enforces it: Dagster has no op timeout). Null
 * when there are none.
 */
export function opTags(step: StepIR): Record<string, string> | null {
  const tags: Record<string, string> = {};
  for (const deco of step.decorators) {
    if (deco.name !== "resources") continue;
    for (const attr of RESOURCE_ATTRIBUTES) {
      const value = tagValue(deco.attributes[attr]);
      if (value !== null) tags[`metaflow/resources.${attr}`] = value;
    }
  }
  if (step.timeoutSeconds !== null) tags["metaflow/timeout"] = String(step.timeoutSeconds);
  return Object.keys(tags).length > 0 ? tags : null;
}

/**
 * Job tags from deploy options: `dagster/max_runtime` for --workflow-timeout (enforced
 * by Dagster's run monitoring where the daemon runs it; the ops enforce it anyway), and
 * the @project name and branch.
 */
export function jobTags(ir: FlowIR): Record<string, string> {
  const tags: Record<string, string> = {};
  if (ir.deploy.workflowTimeout !== null) tags["dagster/max_runtime"] = String(ir.deploy.workflowTimeout);
  if (ir.deploy.project !== null) {
    tags["metaflow/project"] = ir.deploy.project.name;
    tags["metaflow/branch"] = ir.deploy.project.branch;
  }
  return tags;
}
