import type { JobPlan, OpPlan } from "../../plan/types.js";
import { pyCall, pyFloat, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";
import { defHeader } from "./layout.js";
import { docSafe } from "./module.js";

function decorator(op: OpPlan): PyValue {
  const kwargs: [string, PyValue][] = [];
  if (op.inputs.length > 0) {
    const ins: Record<string, PyValue> = {};
    for (const input of op.inputs) ins[input.name] = pyRaw(input.fanIn ? "In(list[str])" : "In(str)");
    kwargs.push(["ins", ins]);
  }
  kwargs.push(["out", pyRaw(op.output === "dynamic" ? "DynamicOut(str)" : "Out(str)")]);
  if (op.retry !== null) {
    const policy: [string, PyValue][] = [["max_retries", op.retry.maxRetries]];
    if (op.retry.delaySeconds > 0) {
      const d = op.retry.delaySeconds;
      policy.push(["delay", Number.isInteger(d) ? d : pyFloat(d)]);
    }
    kwargs.push(["retry_policy", pyCall("RetryPolicy", [], policy)]);
  }
  return pyCall("op", [], kwargs);
}

function signature(op: OpPlan, plan: JobPlan): string[] {
  const params = ["context: OpExecutionContext"];
  if (op.takesConfig && plan.config !== null) params.push(`config: ${plan.config.className}`);
  for (const input of op.inputs) params.push(`${input.name}: ${input.fanIn ? "list[str]" : "str"}`);
  return params;
}

function call(op: OpPlan, plan: JobPlan): PyValue {
  const inputs = op.inputs.map((i) => i.name);
  const args: PyValue[] = [pyRaw("context"), pyRaw("FLOW"), op.step.name];
  if (inputs.length === 1 && op.inputs[0]?.fanIn === true) args.push(pyRaw(inputs[0] ?? ""));
  else if (inputs.length > 0) args.push(inputs.map((name) => pyRaw(name)));
  const kwargs: [string, PyValue][] = [];
  if (op.takesConfig && plan.config !== null) {
    kwargs.push(["params", pyRaw("config.model_dump(by_alias=True)")]);
  }
  return pyCall(op.output === "dynamic" ? "fan_out" : "run_step", args, kwargs);
}

/** One op per step: a decorator, a typed signature and one call into the runtime. */
export function renderOps(plan: JobPlan, w: Writer): void {
  for (const op of plan.ops) {
    w.blank(2);
    w.line("@" + pyLiteral(decorator(op), { indent: w.currentIndent, prefixWidth: 1 }));
    const returns = op.output === "dynamic" ? "Iterator[DynamicOutput[str]]" : "str";
    w.line(defHeader(op.fn, signature(op, plan), returns, w.currentIndent));
    w.indent(() => {
      w.line(`"""${docSafe(op.docstring)}"""`);
      const keyword = op.output === "dynamic" ? "yield from " : "return ";
      w.line(keyword + pyLiteral(call(op, plan), { indent: w.currentIndent, prefixWidth: keyword.length }));
    });
  }
}
