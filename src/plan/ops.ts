// Pass 4: one op per step (plus helper ops for nested foreaches and regrouped inputs),
// each with everything its definition says: inputs, outputs, retry policy, tags, the
// return annotation and the runtime entry point it calls.
import { regroups } from "../base/segment.js";
import type { FlowIR, StepIR } from "../ir/index.js";
import { shapeOf } from "./analyze.js";
import { parallelForeach } from "./graph.js";
import { nameOf } from "./name.js";
import * as api from "./runtime_api.js";
import { planRetry } from "./retry.js";
import { opTags } from "./tags.js";
import type { Analysis, NamePlan, OpInput, OpKind, OpOutput, OpPaths, OpPlan, StepShape, Wiring } from "./types.js";
import { emitsGuard, guarded } from "./wire.js";

/** A return annotation, and the runtime names it uses. */
interface Returns {
  text: string;
  names: string[];
}

const ITERATOR_OF = (item: string, ...names: string[]): Returns => ({
  text: `${api.ITERATOR}[${item}]`,
  names: [api.ITERATOR, ...names],
});

const RETURNS: Record<OpKind, Returns> = {
  step: { text: "str", names: [] },
  foreach: ITERATOR_OF(`${api.DYNAMIC_OUTPUT}[str]`, api.DYNAMIC_OUTPUT),
  switch: ITERATOR_OF(`${api.OUTPUT}[str]`, api.OUTPUT),
  splits: ITERATOR_OF(`${api.DYNAMIC_OUTPUT}[str]`, api.DYNAMIC_OUTPUT),
  regroup: ITERATOR_OF(`${api.DYNAMIC_OUTPUT}[list[str]]`, api.DYNAMIC_OUTPUT),
};

// Ops passing no values (Analysis.derivedInputs: no switch, no nested foreach, so only
// these two kinds): a step returns nothing, a foreach's splits carry no value.
const DERIVED_RETURNS: Partial<Record<OpKind, Returns>> = {
  step: { text: "None", names: [] },
  foreach: ITERATOR_OF(`${api.DYNAMIC_OUTPUT}[None]`, api.DYNAMIC_OUTPUT),
};

// The start op also emitting the guard output yields one more Output.
const GUARDED_RETURNS: Partial<Record<OpKind, Returns>> = {
  step: ITERATOR_OF(`${api.OUTPUT}[str]`, api.OUTPUT),
  foreach: ITERATOR_OF(`${api.DYNAMIC_OUTPUT}[str] | ${api.OUTPUT}[str]`, api.DYNAMIC_OUTPUT, api.OUTPUT),
};

const RUNTIME_CALL: Record<OpKind, string> = {
  step: api.RUN_STEP,
  foreach: api.FAN_OUT,
  switch: api.RUN_SWITCH,
  splits: api.SPLIT_AGAIN,
  regroup: api.REGROUP,
};

/** The runtime names an op uses: its entry point and its return annotation's. */
export function opRuntimeNames(op: OpPlan): string[] {
  return [op.call, api.OP_CONTEXT, ...returnsOf(op.kind, op.emitsGuard, op.derived).names];
}

function returnsOf(kind: OpKind, emitsGuard: boolean, derived: boolean): Returns {
  const special = derived ? DERIVED_RETURNS[kind] : emitsGuard ? GUARDED_RETURNS[kind] : undefined;
  return special ?? RETURNS[kind];
}

function opDocstring(flowName: string, step: StepIR, shape: StepShape): string {
  const parts: string[] = [];
  if (step.type === "foreach") {
    const parallel = step.numParallel > 0 ? `${step.numParallel} parallel tasks` : "parallel tasks";
    parts.push(parallelForeach(step) ? parallel : `foreach over ${step.foreachParam ?? "?"}`);
  }
  if (step.type === "split") parts.push(`splits into ${step.next.join(", ")}`);
  if (step.type === "join") parts.push(`joins ${step.inFuncs.join(", ")}`);
  if (shape.loop) parts.push(`loops on ${step.switchCondition ?? "?"}`);
  else if (shape.switch) parts.push(`switch on ${step.switchCondition ?? "?"}`);
  const decos = step.decorators.map((d) => `@${d.name}`);
  if (decos.length > 0) parts.push(decos.join(" "));
  const tail = parts.length > 0 ? ` (${parts.join("; ")})` : "";
  return `Metaflow step ${step.name} of ${flowName}${tail}.`;
}

function opKind(shape: StepShape): OpKind {
  if (shape.switch) return "switch";
  if (shape.fansOut && shape.stack.length === 0) return "foreach";
  return "step";
}

function outputs(
  kind: OpKind,
  branches: [string, string][],
  mapped: boolean,
  guardOutput: string | null,
  derived: boolean,
): OpOutput[] {
  const out = (name: string, dynamic: boolean, type: OpOutput["type"], required: boolean): OpOutput => ({
    name,
    dynamic,
    type,
    required,
  });
  const outs: OpOutput[] = [];
  if (kind === "switch") {
    // At the top level an untaken branch is skipped; inside a foreach body every branch
    // gets an output (untaken ones a marker), as Dagster cannot fan in there.
    if (branches.length === 1) outs.push(out("result", false, "str", mapped));
    else for (const [name] of branches) outs.push(out(name, false, "str", mapped));
  } else {
    const type = derived ? "Nothing" : kind === "regroup" ? "list[str]" : "str";
    outs.push(out("result", kind !== "step", type, true));
  }
  if (guardOutput !== null) outs.push(out(guardOutput, false, "str", true));
  return outs;
}

// The paths argument: one list of input paths (a list of lists for `regroup`).
function paths(kind: OpKind, inputs: readonly OpInput[]): OpPaths {
  if (inputs.every((i) => i.nothing)) return { kind: "none" };
  const [only] = inputs;
  if (kind !== "regroup" && inputs.length === 1 && only !== undefined && only.list) {
    return { kind: "input", name: only.name };
  }
  return { kind: "list", items: inputs.map((i) => ({ name: i.name, spread: kind !== "regroup" && i.list })) };
}

interface OpParts {
  kind: OpKind;
  step: StepIR;
  fn: string;
  docstring: string;
  inputs: OpInput[];
  branches: [string, string][];
  config: string | null;
  mapped: boolean;
  guarded: boolean;
  emitsGuard: boolean;
  derived: boolean;
}

function op(parts: OpParts, names: NamePlan): OpPlan {
  const { kind, step } = parts;
  const returns = returnsOf(kind, parts.emitsGuard, parts.derived);
  return {
    kind,
    step: step.name,
    fn: parts.fn,
    docstring: parts.docstring,
    // Helper ops keep their own words: the step's docstring describes the step's op.
    description: kind === "splits" || kind === "regroup" || step.doc === null ? null : `${step.doc.trim()}\n\n${parts.docstring}`,
    inputs: parts.inputs,
    outputs: outputs(kind, parts.branches, parts.mapped, parts.emitsGuard ? names.guardOutput : null, parts.derived),
    branches: parts.branches,
    config: parts.config,
    mapped: parts.mapped,
    retry: kind === "splits" || kind === "regroup" ? null : planRetry(step),
    // Helper ops carry the tags of the step they feed.
    tags: Object.entries(opTags(step) ?? {}),
    returns: returns.text,
    statement: kind !== "step" || parts.emitsGuard ? "yield from" : parts.derived ? "call" : "return",
    // A plain step has no generator to add the guard to: `run_start` wraps `run_step`.
    call: parts.emitsGuard && kind === "step" ? api.RUN_START : RUNTIME_CALL[kind],
    paths: paths(kind, parts.inputs),
    params: parts.config !== null,
    guarded: parts.guarded,
    emitsGuard: parts.emitsGuard,
    emitGuardArg: parts.emitsGuard && kind !== "step",
    derived: parts.derived,
  };
}

export function planOps(ir: FlowIR, analysis: Analysis, names: NamePlan, wiring: Wiring): OpPlan[] {
  const ops: OpPlan[] = [];
  const flowName = ir.flow.name;
  const derived = analysis.derivedInputs;
  const helper = { branches: [], config: null, mapped: false, guarded: false, emitsGuard: false, derived };
  for (const step of ir.steps) {
    const shape = shapeOf(analysis, step.name);
    const kind = opKind(shape);
    const parts: OpParts = {
      kind,
      step,
      fn: nameOf(names.ops, step.name),
      docstring: opDocstring(flowName, step, shape),
      inputs: wiring.inputs.get(step.name) ?? [],
      branches: kind === "switch" ? (names.branches.get(step.name) ?? []) : [],
      config: step.name === ir.flow.startStep ? (names.config?.className ?? null) : null,
      mapped: shape.segment !== null,
      guarded: guarded(analysis, step.name),
      emitsGuard: emitsGuard(analysis, step.name),
      derived,
    };
    ops.push(op(parts, names));
    if (shape.fansOut && shape.stack.length > 0) {
      const docstring = `Splits of the nested foreach ${step.name} of ${flowName}, one per (outer, inner) index.`;
      const inputs = [{ name: nameOf(names.locals, step.name), list: true, nothing: false }];
      ops.push(op({ ...helper, kind: "splits", step, fn: nameOf(names.splitsOps, step.name), docstring, inputs }, names));
    }
    if (regroups(shape.segment, step.name)) {
      const docstring = `Inputs of step ${step.name} of ${flowName}, grouped per foreach split.`;
      const inputs = shape.inputs.map((p) => ({ name: nameOf(names.locals, p), list: true, nothing: false }));
      ops.push(op({ ...helper, kind: "regroup", step, fn: nameOf(names.inputsOps, step.name), docstring, inputs }, names));
    }
  }
  return ops;
}
