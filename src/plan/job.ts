import type { FlowIR, StepIR } from "../ir/index.js";
import { pyIdent } from "../emit/printer/index.js";
import { CompileError } from "../validate/index.js";
import { planConfig } from "./config.js";
import { planRetry } from "./retry.js";
import type { JobArg, JobNode, JobPlan, OpInput, OpPlan } from "./types.js";

/** The innermost foreach a step runs inside (its body), or null at the top level. */
export function enclosingForeach(ir: FlowIR, step: StepIR): string | null {
  const byName = new Map(ir.steps.map((s) => [s.name, s]));
  for (let i = step.splitParents.length - 1; i >= 0; i--) {
    const parent = byName.get(step.splitParents[i] ?? "");
    if (parent?.type === "foreach" && parent.matchingJoin !== step.name) return parent.name;
  }
  return null;
}

function opDocstring(ir: FlowIR, step: StepIR): string {
  const parts: string[] = [];
  if (step.type === "foreach") parts.push(`foreach over ${step.foreachParam ?? "?"}`);
  if (step.type === "split") parts.push(`splits into ${step.next.join(", ")}`);
  if (step.type === "join") parts.push(`joins ${step.inFuncs.join(", ")}`);
  const decos = step.decorators.map((d) => `@${d.name}`);
  if (decos.length > 0) parts.push(decos.join(" "));
  const tail = parts.length > 0 ? ` (${parts.join("; ")})` : "";
  return `Metaflow step ${step.name} of ${ir.flow.name}${tail}.`;
}

/**
 * Plan the job: one op per step, wired like the flow's graph. Foreach bodies become a
 * local function mapped over the foreach's dynamic output, then collected for the join.
 */
export function planJob(ir: FlowIR, moduleNames: ReadonlySet<string>): JobPlan {
  const byName = new Map(ir.steps.map((s) => [s.name, s]));
  const reserved = new Set(moduleNames);
  const opFn = new Map<string, string>();
  for (const step of ir.steps) {
    const fn = `op_${pyIdent(step.name, new Set())}`;
    opFn.set(step.name, fn);
    reserved.add(fn);
  }
  const jobAttr = ir.flow.name;
  if (reserved.has(jobAttr)) {
    throw new CompileError([
      {
        message: `the flow class name '${jobAttr}' collides with a name the generated module needs; rename the flow class`,
      },
    ]);
  }
  reserved.add(jobAttr);
  const config = planConfig(ir, reserved);
  if (config !== null) reserved.add(config.className);
  const eachFn = new Map<string, string>();
  const resultsVar = new Map<string, string>();
  for (const step of ir.steps) {
    if (step.type !== "foreach") continue;
    const fn = pyIdent(`each_${step.name}`, reserved);
    eachFn.set(step.name, fn);
    reserved.add(fn);
    const results = pyIdent(`${step.name}_results`, reserved);
    resultsVar.set(step.name, results);
    reserved.add(results);
  }
  const local = (name: string): string => pyIdent(name, reserved);

  const ops: OpPlan[] = ir.steps.map((step) => {
    const parentIsForeach = step.inFuncs.some((p) => byName.get(p)?.type === "foreach");
    const matchingSplit = byName.get(step.splitParents[step.splitParents.length - 1] ?? "");
    const foreachJoin = step.type === "join" && matchingSplit?.type === "foreach";
    const inputs: OpInput[] =
      step.name === ir.flow.startStep
        ? []
        : step.inFuncs.map((from) => ({ name: local(from), from, fanIn: foreachJoin }));
    return {
      step,
      fn: opFn.get(step.name) ?? "",
      output: step.type === "foreach" ? "dynamic" : "single",
      inputs,
      takesConfig: step.name === ir.flow.startStep && config !== null,
      retry: planRetry(step),
      split: parentIsForeach && !foreachJoin,
      foreachJoin,
      docstring: opDocstring(ir, step),
    };
  });
  const opByStep = new Map(ops.map((op) => [op.step.name, op]));

  // Scope of each step: the foreach whose body it is in (null: top level).
  const scopeOf = new Map(ir.steps.map((s) => [s.name, enclosingForeach(ir, s)]));
  const build = (scope: string | null): JobNode[] => {
    const nodes: JobNode[] = [];
    for (const step of ir.steps) {
      if (scopeOf.get(step.name) !== scope) continue;
      const op = opByStep.get(step.name);
      if (op === undefined) continue;
      const args: JobArg[] = op.inputs.map((input) => {
        const source = byName.get(input.from);
        if (input.fanIn && source !== undefined) {
          const foreach = enclosingForeach(ir, source) ?? input.from;
          const fanned = source.type === "foreach" ? null : (eachFn.get(foreach) ?? null);
          const results = resultsVar.get(foreach) ?? "";
          return { kind: "collect", source: local(foreach), fn: fanned, results };
        }
        return { kind: "var", name: local(input.from) };
      });
      nodes.push({ kind: "call", target: local(step.name), op, args });
      if (step.type === "foreach") {
        const body = build(step.name);
        const lastCall = [...body].reverse().find((n) => n.kind === "call");
        const join = step.matchingJoin === null ? undefined : byName.get(step.matchingJoin);
        const last = join?.inFuncs[0];
        nodes.push({
          kind: "foreach",
          source: local(step.name),
          fn: eachFn.get(step.name) ?? "",
          param: local(step.name),
          body,
          result: lastCall === undefined || last === undefined ? null : local(last),
        });
      }
    }
    return nodes;
  };

  return {
    flowName: ir.flow.name,
    jobName: ir.deploy.jobName,
    jobAttr,
    ops,
    body: build(null),
    config,
  };
}
