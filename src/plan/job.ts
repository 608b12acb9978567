import type { FlowIR, StepIR } from "../ir/index.js";
import { pyIdent } from "../emit/printer/index.js";
import { CompileError } from "../validate/index.js";
import { fitDagsterName } from "../validate/names.js";
import { planConfig } from "./config.js";
import { FlowGraph, parallelForeach } from "./graph.js";
import { planRetry } from "./retry.js";
import { planRun } from "./run.js";
import type { JobPlan, OpInput, OpKind, OpPlan, StepFacts } from "./types.js";
import { branchName, Wiring, type Names } from "./wiring.js";

/** The innermost foreach a step runs inside (its body), or null at the top level. */
export function enclosingForeach(ir: FlowIR, step: StepIR): string | null {
  const stack = new FlowGraph(ir).stack(step);
  return stack[stack.length - 1] ?? null;
}

function opDocstring(ir: FlowIR, step: StepIR, graph: FlowGraph): string {
  const parts: string[] = [];
  if (step.type === "foreach") {
    const parallel = step.numParallel > 0 ? `${step.numParallel} parallel tasks` : "parallel tasks";
    parts.push(parallelForeach(step) ? parallel : `foreach over ${step.foreachParam ?? "?"}`);
  }
  if (step.type === "split") parts.push(`splits into ${step.next.join(", ")}`);
  if (step.type === "join") parts.push(`joins ${step.inFuncs.join(", ")}`);
  if (graph.isLoop(step)) parts.push(`loops on ${step.switchCondition ?? "?"}`);
  else if (graph.isSwitch(step)) parts.push(`switch on ${step.switchCondition ?? "?"}`);
  const decos = step.decorators.map((d) => `@${d.name}`);
  if (decos.length > 0) parts.push(decos.join(" "));
  const tail = parts.length > 0 ? ` (${parts.join("; ")})` : "";
  return `Metaflow step ${step.name} of ${ir.flow.name}${tail}.`;
}

function opKind(graph: FlowGraph, step: StepIR): OpKind {
  if (graph.isSwitch(step)) return "switch";
  if (graph.isForeach(step) && graph.depth(step) === 0) return "foreach";
  return "step";
}

/** Output names of a switch: one per branch target (never itself: loops stay inside). */
function branches(step: StepIR): [string, string][] {
  const targets = [...new Set(step.next)].filter((t) => t !== step.name);
  // One way out (a loop's exit): Dagster's single default output.
  if (targets.length === 1) return targets.map((t) => ["result", t]);
  const seen = new Map<string, string>();
  for (const target of targets) {
    const name = branchName(target);
    const other = seen.get(name);
    if (other !== undefined) throw collision(`the outputs of switch '${step.name}' leading to '${other}' and '${target}'`, name);
    seen.set(name, target);
  }
  return targets.map((t) => [branchName(t), t]);
}

/** Two names shortened to one (their hashes agree): refused, never merged. */
function collision(what: string, name: string): CompileError {
  return new CompileError([
    { message: `${what} would both be named '${name}' after shortening to Dagster's length limit; rename one of them` },
  ]);
}

/**
 * Plan the job: one op per step, wired like the flow's graph (see wiring.ts for how
 * foreach bodies, nested foreaches and switches become Dagster mappings and fan-ins).
 */
export function planJob(ir: FlowIR, moduleNames: ReadonlySet<string>): JobPlan {
  const graph = new FlowGraph(ir);
  const reserved = new Set(moduleNames);
  // Op names are path components under Dagster's filesystem IO manager: long ones are
  // shortened (validate/names.ts), and checked for collisions after shortening.
  const opFn = new Map<string, string>();
  const stepOfOp = new Map<string, string>();
  for (const step of ir.steps) {
    const fn = fitDagsterName(`op_${pyIdent(step.name, new Set())}`);
    const other = stepOfOp.get(fn);
    if (other !== undefined) throw collision(`the ops of steps '${other}' and '${step.name}'`, fn);
    stepOfOp.set(fn, step.name);
    opFn.set(step.name, fn);
  }
  for (const fn of opFn.values()) reserved.add(fn);
  const jobAttr = ir.flow.name;
  if (reserved.has(jobAttr)) {
    throw new CompileError([
      {
        message: `the flow class name '${jobAttr}' collides with a name the generated module needs; rename the flow class`,
      },
    ]);
  }
  reserved.add(jobAttr);
  const claim = (wanted: string): string => {
    const name = pyIdent(wanted, reserved);
    reserved.add(name);
    return name;
  };
  // A helper op's name, shortened like step ops'; pyIdent keeps the unshortened name
  // free, so a clash after shortening is a hash collision.
  const claimOp = (wanted: string, step: string): string => {
    const name = fitDagsterName(pyIdent(wanted, reserved));
    if (reserved.has(name)) throw collision(`the helper op of step '${step}' and another generated name`, name);
    reserved.add(name);
    return name;
  };
  const config = planConfig(ir, reserved);
  if (config !== null) reserved.add(config.className);

  const names: Names = {
    op: (step) => opFn.get(step) ?? "",
    splitsOp: memo((step) => claimOp(`op_${step}_splits`, step)),
    inputsOp: memo((step) => claimOp(`op_${step}_inputs`, step)),
    each: memo((segment) => claim(`each_${segment.replace(/^\w+:/, "")}`)),
    results: memo((step) => claim(`${step}_results`)),
    source: memo((segment) => claim(segment.startsWith("body:") ? `${segment.slice(5)}_splits` : `${segment.slice(7)}_inputs`)),
    local: (step) => pyIdent(step, reserved),
  };
  // Every helper name is claimed before any local variable name is derived.
  for (const step of ir.steps) {
    const segment = graph.segment(step);
    if (segment !== null) {
      names.each(segment);
      if (segment.startsWith("inputs:") || graph.depth(graph.step(segment.slice(5))) > 0) {
        names.source(segment);
      }
    }
    if (graph.isForeach(step) && graph.depth(step) > 0) names.splitsOp(step.name);
    if (segment === `inputs:${step.name}`) names.inputsOp(step.name);
    names.results(step.name);
    if (graph.isSwitch(step)) for (const [out] of branches(step)) names.results(`${step.name}_${out}`);
  }

  const wiring = new Wiring(graph, names);
  const body = wiring.build();
  const ops: OpPlan[] = [];
  for (const step of ir.steps) {
    const kind = opKind(graph, step);
    ops.push({
      kind,
      step,
      fn: names.op(step.name),
      inputs: wiring.inputsOf(step),
      branches: kind === "switch" ? branches(step) : [],
      takesConfig: step.name === ir.flow.startStep && config !== null,
      mapped: graph.segment(step) !== null,
      retry: planRetry(step),
      docstring: opDocstring(ir, step, graph),
      emitsGuard: wiring.emitsGuard(step.name),
      guarded: wiring.guarded(step.name),
    });
    if (graph.isForeach(step) && graph.depth(step) > 0) {
      ops.push(helperOp("splits", step, names.splitsOp(step.name), [{ name: names.local(step.name), list: true }], ir));
    }
    if (graph.segment(step) === `inputs:${step.name}`) {
      const inputs: OpInput[] = graph.inputsOf(step).map((p) => ({ name: names.local(p), list: true }));
      ops.push(helperOp("regroup", step, names.inputsOp(step.name), inputs, ir));
    }
  }
  const facts: StepFacts[] = ir.steps.map((step) => ({
    step,
    split: graph.inputsOf(step).some((p) => graph.isForeach(graph.step(p)) && graph.step(p).matchingJoin !== step.name),
    foreachJoin: graph.closedForeach(step) !== null,
    branches: graph.isSwitch(step) ? branches(step) : [],
    loop: graph.isLoop(step),
    mapped: graph.segment(step) !== null,
    parallel: graph.isParallel(step),
    parallelJoin: graph.closedParallel(step) !== null,
  }));
  const run = planRun(ir);
  return { flowName: ir.flow.name, jobName: ir.deploy.jobName, jobAttr, ops, facts, body, config, run };
}

function helperOp(kind: "splits" | "regroup", step: StepIR, fn: string, inputs: OpInput[], ir: FlowIR): OpPlan {
  const what =
    kind === "splits"
      ? `Splits of the nested foreach ${step.name} of ${ir.flow.name}, one per (outer, inner) index.`
      : `Inputs of step ${step.name} of ${ir.flow.name}, grouped per foreach split.`;
  return {
    kind,
    step,
    fn,
    inputs,
    branches: [],
    takesConfig: false,
    mapped: false,
    retry: null,
    docstring: what,
    emitsGuard: false,
    guarded: false,
  };
}

function memo(fn: (key: string) => string): (key: string) => string {
  const cache = new Map<string, string>();
  return (key) => {
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const value = fn(key);
    cache.set(key, value);
    return value;
  };
}
