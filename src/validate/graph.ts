import type { FlowIR } from "../ir/index.js";
import type { Problem } from "../base/problems.js";

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
  }
  return problems;
}
