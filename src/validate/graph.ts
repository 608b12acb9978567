import type { FlowIR, StepIR } from "../ir/index.js";
import type { Problem } from "./errors.js";

function foreachDepth(ir: FlowIR, step: StepIR): number {
  const byName = new Map(ir.steps.map((s) => [s.name, s]));
  return step.splitParents.filter((p) => byName.get(p)?.type === "foreach").length;
}

/** Shapes the planner cannot turn into a faithful Dagster job are refused here. */
export function checkGraph(ir: FlowIR): Problem[] {
  const problems: Problem[] = [];
  const names = new Set(ir.steps.map((s) => s.name));
  for (const end of [ir.flow.startStep, ir.flow.endStep]) {
    if (!names.has(end)) problems.push({ message: `the graph has no step named '${end}'` });
  }
  for (const step of ir.steps) {
    for (const next of step.next) {
      if (!names.has(next)) {
        problems.push({ step: step.name, message: `transitions to unknown step '${next}'` });
      }
    }
    if (step.type === "split-switch") {
      problems.push({
        step: step.name,
        message: "conditional transitions (switch) are not supported by this version",
      });
    }
    if (step.numParallel > 0) {
      problems.push({
        step: step.name,
        message: "num_parallel (@parallel) is not supported by this version",
      });
    }
    if (step.type === "foreach" && foreachDepth(ir, step) > 0) {
      problems.push({
        step: step.name,
        message: "a foreach nested inside another foreach is not supported by this version",
      });
    }
  }
  return problems;
}
