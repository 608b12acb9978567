import type { JobPlan, OpPlan } from "../../plan/types.js";
import { GUARD_OUTPUT } from "../../plan/wiring.js";
import { pyCall, pyFloat, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";
import { opTagsKwargs } from "./decorators.js";
import { defHeader } from "./layout.js";
import { docSafe } from "./module.js";

const OUT: Record<OpPlan["kind"], string> = {
  step: "Out(str)",
  foreach: "DynamicOut(str)",
  switch: "",
  splits: "DynamicOut(str)",
  regroup: "DynamicOut(list[str])",
};

const RETURNS: Record<OpPlan["kind"], string> = {
  step: "str",
  foreach: "Iterator[DynamicOutput[str]]",
  switch: "Iterator[Output[str]]",
  splits: "Iterator[DynamicOutput[str]]",
  regroup: "Iterator[DynamicOutput[list[str]]]",
};

// The start op also emitting the guard output (plan/wiring.ts) yields one more Output.
const GUARDED_RETURNS: Partial<Record<OpPlan["kind"], string>> = {
  step: "Iterator[Output[str]]",
  foreach: "Iterator[DynamicOutput[str] | Output[str]]",
};

const RUNTIME_CALL: Record<OpPlan["kind"], string> = {
  step: "run_step",
  foreach: "fan_out",
  switch: "run_switch",
  splits: "split_again",
  regroup: "regroup",
};

function decorator(op: OpPlan): PyValue {
  const kwargs: [string, PyValue][] = [];
  if (op.inputs.length > 0) {
    const ins: Record<string, PyValue> = {};
    for (const input of op.inputs) ins[input.name] = pyRaw(input.list ? "In(list[str])" : "In(str)");
    kwargs.push(["ins", ins]);
  }
  const outs: Record<string, PyValue> = {};
  if (op.kind === "switch") {
    // At the top level an untaken branch is skipped; inside a foreach body every branch
    // gets an output (untaken ones a marker), as Dagster cannot fan in there.
    const out = op.mapped ? "Out(str)" : "Out(str, is_required=False)";
    if (op.branches.length === 1) outs["result"] = pyRaw(out);
    else for (const [name] of op.branches) outs[name] = pyRaw(out);
  } else {
    outs["result"] = pyRaw(OUT[op.kind]);
  }
  if (op.emitsGuard) outs[GUARD_OUTPUT] = pyRaw("Out(str)");
  const names = Object.keys(outs);
  const only = names.length === 1 && names[0] === "result" ? outs["result"] : undefined;
  kwargs.push(["out", only ?? outs]);
  if (op.retry !== null) {
    const policy: [string, PyValue][] = [["max_retries", op.retry.maxRetries]];
    if (op.retry.delaySeconds > 0) {
      const d = op.retry.delaySeconds;
      policy.push(["delay", Number.isInteger(d) ? d : pyFloat(d)]);
    }
    kwargs.push(["retry_policy", pyCall("RetryPolicy", [], policy)]);
  }
  kwargs.push(...opTagsKwargs(op.step));
  return pyCall("op", [], kwargs);
}

function signature(op: OpPlan, plan: JobPlan): string[] {
  const params = ["context: OpExecutionContext"];
  if (op.takesConfig && plan.config !== null) params.push(`config: ${plan.config.className}`);
  for (const input of op.inputs) params.push(`${input.name}: ${input.list ? "list[str]" : "str"}`);
  return params;
}

// The inputs argument: one list of input paths (a list of lists for `regroup`).
function inputsArg(op: OpPlan): PyValue | null {
  const real = op.inputs;
  if (real.length === 0) return null;
  if (op.kind === "regroup") return real.map((i) => pyRaw(i.name));
  const [only] = real;
  if (real.length === 1 && only !== undefined && only.list) return pyRaw(only.name);
  if (real.every((i) => !i.list)) return real.map((i) => pyRaw(i.name));
  return pyRaw(`[${real.map((i) => (i.list ? `*${i.name}` : i.name)).join(", ")}]`);
}

function call(op: OpPlan, plan: JobPlan): PyValue {
  const args: PyValue[] = [pyRaw("context"), pyRaw("FLOW"), op.step.name];
  const inputs = inputsArg(op);
  if (inputs !== null) args.push(inputs);
  const kwargs: [string, PyValue][] = [];
  if (op.takesConfig && plan.config !== null) {
    kwargs.push(["params", pyRaw("config.model_dump(by_alias=True)")]);
  }
  if (op.guarded) kwargs.push(["guard", true]);
  if (op.emitsGuard && op.kind !== "step") kwargs.push(["emit_guard", true]);
  // A plain step has no generator to add the guard to: `run_start` wraps `run_step`.
  const fn = op.emitsGuard && op.kind === "step" ? "run_start" : RUNTIME_CALL[op.kind];
  return pyCall(fn, args, kwargs);
}

/** One op per step: a decorator, a typed signature and one call into the runtime. */
export function renderOps(plan: JobPlan, w: Writer): void {
  for (const op of plan.ops) {
    w.blank(2);
    w.line("@" + pyLiteral(decorator(op), { indent: w.currentIndent, prefixWidth: 1 }));
    const returns = (op.emitsGuard ? GUARDED_RETURNS[op.kind] : undefined) ?? RETURNS[op.kind];
    w.line(defHeader(op.fn, signature(op, plan), returns, w.currentIndent));
    w.indent(() => {
      w.line(`"""${docSafe(op.docstring)}"""`);
      const keyword = op.kind === "step" && !op.emitsGuard ? "return " : "yield from ";
      w.line(keyword + pyLiteral(call(op, plan), { indent: w.currentIndent, prefixWidth: keyword.length }));
    });
  }
}
