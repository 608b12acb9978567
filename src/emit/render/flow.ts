import type { FlowIR } from "../../ir/index.js";
import type { JobPlan, StepFacts } from "../../plan/types.js";
import { flowInfoDecoratorKwargs, stepInfoDecoratorKwargs } from "./decorators.js";
import { pyCall, pyLiteral, pyRaw, pyTuple, type PyValue, type Writer } from "../printer/index.js";

function stepInfo(op: StepFacts): PyValue {
  const kwargs: [string, PyValue][] = [];
  if (op.split) kwargs.push(["split", true]);
  if (op.foreachJoin) kwargs.push(["foreach_join", true]);
  if (op.branches.length > 0) {
    kwargs.push(["branches", Object.fromEntries(op.branches.map(([name, target]) => [target, name]))]);
  }
  if (op.loop) kwargs.push(["loop", true]);
  if (op.mapped && op.branches.length > 0) kwargs.push(["mapped", true]);
  if (op.parallel) kwargs.push(["parallel", true]);
  if (op.parallelJoin) kwargs.push(["parallel_join", true]);
  if (op.step.retries.user > 0) kwargs.push(["user_retries", op.step.retries.user]);
  if (op.step.retries.error > 0) kwargs.push(["error_retries", op.step.retries.error]);
  if (op.step.withSpecs.length > 0) kwargs.push(["with_specs", pyTuple(op.step.withSpecs)]);
  const env = Object.entries(op.step.environment).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (env.length > 0) kwargs.push(["env", Object.fromEntries(env)]);
  kwargs.push(...stepInfoDecoratorKwargs(op.step));
  return pyCall("StepInfo", [op.step.name], kwargs);
}

/** `FLOW = FlowInfo(...)`: every fact about the flow, baked at create time. */
export function renderFlowInfo(ir: FlowIR, plan: JobPlan, w: Writer): void {
  const d = ir.deploy;
  const kwargs: [string, PyValue][] = [
    ["name", ir.flow.name],
    ["file", ir.flow.file],
    ["anchor", pyRaw("__file__")],
    ["start_step", ir.flow.startStep],
    ["end_step", ir.flow.endStep],
    ["steps", Object.fromEntries(plan.facts.map((f) => [f.step.name, stepInfo(f)]))],
    ["top_level_args", pyTuple(d.topLevelArgs)],
    ["datastore", d.datastore],
    ["datastore_root", d.datastoreRoot],
    ["metadata", d.metadata],
    ["tags", pyTuple(d.tags)],
    ["namespace", d.namespace],
    ["owner", d.owner],
    ["parameters", Object.fromEntries(ir.parameters.map((p) => [p.name, p.type]))],
  ];
  kwargs.push(...flowInfoDecoratorKwargs(ir, plan.run));
  w.line("FLOW = " + pyLiteral(pyCall("FlowInfo", [], kwargs), { indent: w.currentIndent, prefixWidth: 7 }));
}
