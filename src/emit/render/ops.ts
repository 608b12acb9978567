// One op per planned op: a decorator, a typed signature and one call into the runtime.
import type { OpOutput, OpPaths, OpPlan } from "../../plan/types.js";
import { pyCall, pyFloat, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";
import { defHeader } from "./layout.js";
import { docSafe } from "./text.js";

function out(o: OpOutput): PyValue {
  const type = o.required ? o.type : `${o.type}, is_required=False`;
  return pyRaw(`${o.dynamic ? "DynamicOut" : "Out"}(${type})`);
}

function decorator(op: OpPlan): PyValue {
  const kwargs: [string, PyValue][] = [];
  if (op.inputs.length > 0) {
    const ins: Record<string, PyValue> = {};
    for (const input of op.inputs) {
      ins[input.name] = pyRaw(input.nothing ? "In(Nothing)" : input.list ? "In(list[str])" : "In(str)");
    }
    kwargs.push(["ins", ins]);
  }
  const [only] = op.outputs;
  // Dagster's one default output goes bare; any other set is a dict by name.
  const single = op.outputs.length === 1 && only !== undefined && only.name === "result";
  kwargs.push(["out", single ? out(only) : Object.fromEntries(op.outputs.map((o) => [o.name, out(o)]))]);
  if (op.retry !== null) {
    const policy: [string, PyValue][] = [["max_retries", op.retry.maxRetries]];
    if (op.retry.delaySeconds > 0) {
      const d = op.retry.delaySeconds;
      policy.push(["delay", Number.isInteger(d) ? d : pyFloat(d)]);
    }
    kwargs.push(["retry_policy", pyCall("RetryPolicy", [], policy)]);
  }
  if (op.tags.length > 0) kwargs.push(["tags", Object.fromEntries(op.tags)]);
  if (op.description !== null) kwargs.push(["description", op.description]);
  return pyCall("op", [], kwargs);
}

function signature(op: OpPlan): string[] {
  const params = ["context: OpExecutionContext"];
  if (op.config !== null) params.push(`config: ${op.config}`);
  // Dagster passes no argument for a `Nothing` input.
  for (const input of op.inputs.filter((i) => !i.nothing)) {
    params.push(`${input.name}: ${input.list ? "list[str]" : "str"}`);
  }
  return params;
}

function pathsArg(paths: OpPaths): PyValue | null {
  switch (paths.kind) {
    case "none":
      return null;
    case "input":
      return pyRaw(paths.name);
    case "list":
      if (paths.items.every((i) => !i.spread)) return paths.items.map((i) => pyRaw(i.name));
      return pyRaw(`[${paths.items.map((i) => (i.spread ? `*${i.name}` : i.name)).join(", ")}]`);
  }
}

function call(op: OpPlan): PyValue {
  const args: PyValue[] = [pyRaw("context"), pyRaw("FLOW"), op.step];
  const paths = pathsArg(op.paths);
  if (paths !== null) args.push(paths);
  const kwargs: [string, PyValue][] = [];
  if (op.params) kwargs.push(["params", pyRaw("config.model_dump(by_alias=True)")]);
  if (op.guarded) kwargs.push(["guard", true]);
  if (op.emitGuardArg) kwargs.push(["emit_guard", true]);
  return pyCall(op.call, args, kwargs);
}

export function renderOps(ops: readonly OpPlan[], w: Writer): void {
  for (const op of ops) {
    w.blank(2);
    w.line("@" + pyLiteral(decorator(op), { indent: w.currentIndent, prefixWidth: 1 }));
    w.line(defHeader(op.fn, signature(op), op.returns, w.currentIndent));
    w.indent(() => {
      w.line(`"""${docSafe(op.docstring)}"""`);
      const keyword = op.statement === "call" ? "" : `${op.statement} `;
      w.line(keyword + pyLiteral(call(op), { indent: w.currentIndent, prefixWidth: keyword.length }));
    });
  }
}
