import type { FlowIR } from "../ir/index.js";
import type { Problem } from "./errors.js";

// These move the task to other compute from inside Metaflow's own runtime; run as a
// plain `step` command they would silently run on the Dagster worker instead.
const REMOTE_COMPUTE: Record<string, string> = {
  kubernetes: "runs the step on Kubernetes",
  batch: "runs the step on AWS Batch",
  slurm: "runs the step on Slurm",
};

/** Decorators whose behaviour this integration cannot honour are refused, by name. */
export function checkDecorators(ir: FlowIR): Problem[] {
  const problems: Problem[] = [];
  for (const step of ir.steps) {
    for (const deco of step.decorators) {
      const why = REMOTE_COMPUTE[deco.name];
      if (why !== undefined) {
        problems.push({
          step: step.name,
          decorator: deco.name,
          message: `${why}, which this version cannot orchestrate from Dagster; it would silently run locally instead`,
        });
      }
    }
  }
  return problems;
}
