// Pass 1: what the flow's graph means for Dagster, asked of FlowGraph once per step and
// kept as plain data (StepShape), so the later passes never walk the IR's graph again.
import { regroups } from "../base/segment.js";
import type { FlowIR, StepIR } from "../ir/index.js";
import { FlowGraph } from "./graph.js";
import type { Analysis, StepShape } from "./types.js";

function shape(graph: FlowGraph, step: StepIR): StepShape {
  const inputs = graph.inputsOf(step);
  const isSwitch = graph.isSwitch(step);
  return {
    name: step.name,
    type: step.type,
    inputs,
    stack: [...graph.stack(step)],
    segment: graph.segment(step),
    fansOut: graph.isForeach(step),
    switch: isSwitch,
    loop: graph.isLoop(step),
    targets: isSwitch ? [...new Set(step.next)].filter((t) => t !== step.name) : [],
    matchingJoin: step.matchingJoin,
    closesForeach: graph.closedForeach(step)?.name ?? null,
    closesParallel: graph.closedParallel(step)?.name ?? null,
    parallel: graph.isParallel(step),
    split: inputs.some((p) => graph.isForeach(graph.step(p)) && graph.step(p).matchingJoin !== step.name),
  };
}

export function analyze(ir: FlowIR): Analysis {
  const graph = new FlowGraph(ir);
  const { startStep, endStep } = ir.flow;
  const hasSwitch = graph.hasSwitch();
  const steps = new Map(ir.steps.map((s) => [s.name, shape(graph, s)]));
  return {
    flowName: ir.flow.name,
    startStep,
    endStep,
    order: ir.steps.map((s) => s.name),
    steps,
    hasSwitch,
    guardedEnd: endStep !== startStep && hasSwitch,
    derivedInputs: ir.deploy.executor.kind === "threads" && !hasSwitch && [...steps.values()].every(derivable),
  };
}

// Whether an op of this step can name its inputs' tasks itself (runtime/derived.py):
// its split key, if any, is one foreach's index (no nested foreach, no regrouped
// inputs), and no step hands over mapper tasks (`num_parallel`).
function derivable(step: StepShape): boolean {
  if (step.stack.length > 1 || (step.fansOut && step.stack.length > 0)) return false;
  if (step.parallel || step.closesParallel !== null) return false;
  // A foreach feeding its own join (an empty body): the join's inputs are no op's tasks.
  if (step.closesForeach !== null && step.inputs.includes(step.closesForeach)) return false;
  return !regroups(step.segment, step.name);
}

/** The shape of a step the analysis knows (a wrong name is the planner's own bug). */
export function shapeOf(analysis: Analysis, name: string): StepShape {
  const found = analysis.steps.get(name);
  if (found === undefined) throw new Error(`unknown step ${name}`);
  return found;
}

/** Steps in the IR's order. */
export function shapes(analysis: Analysis): StepShape[] {
  return analysis.order.map((name) => shapeOf(analysis, name));
}

/** The innermost foreach a step runs inside (its body), or null at the top level. */
export function enclosingForeach(ir: FlowIR, step: StepIR): string | null {
  const stack = new FlowGraph(ir).stack(step);
  return stack[stack.length - 1] ?? null;
}

