import type { StepIR } from "../ir/index.js";
import { pyIdent } from "../emit/printer/index.js";
import { DAGSTER_RESERVED_NAMES, fitDagsterName } from "../validate/names.js";
import type { FlowGraph } from "./graph.js";
import type { JobArg, JobNode, OpInput } from "./types.js";

/** Names the wiring needs; each is claimed once, so generated names never collide. */
export interface Names {
  op(step: string): string;
  splitsOp(step: string): string;
  inputsOp(step: string): string;
  each(segment: string): string;
  results(step: string): string;
  source(segment: string): string;
  local(step: string): string;
}

const ITEM_INPUT = "inputs";

/** The start op's output that keeps a guarded end op from being skipped (runtime: GUARD_OUTPUT). */
export const GUARD_OUTPUT = "started";

interface Exit {
  key: string;
  producer: string;
  attr: string | null;
}

/**
 * The job body. Top-level steps are plain calls. Each segment (see FlowGraph.segment)
 * becomes a local function mapped over one top-level dynamic source: a top-level
 * foreach's own output, a helper op that re-splits a nested foreach over composite
 * keys, or a helper op that regroups collected inputs per split. Values leave a segment
 * only through `.collect()`. Statements are emitted on demand, so order is topological.
 */
export class Wiring {
  private readonly top: JobNode[] = [];
  private readonly done = new Set<string>();
  // Values leaving each segment: a step's output, or one branch output of a switch.
  private readonly exits = new Map<string, Exit[]>();
  private readonly consumers = new Map<string, number>();

  constructor(
    private readonly graph: FlowGraph,
    private readonly names: Names,
  ) {
    for (const step of graph.ir.steps) {
      for (const p of this.outsideInputs(step)) {
        const segment = graph.segment(graph.step(p));
        if (segment === null) continue;
        const exit = this.exitFor(p, step);
        const list = this.exits.get(segment) ?? [];
        if (!list.some((e) => e.key === exit.key)) list.push(exit);
        this.exits.set(segment, list);
        this.consumers.set(exit.key, (this.consumers.get(exit.key) ?? 0) + 1);
      }
    }
  }

  build(): JobNode[] {
    for (const step of this.graph.ir.steps) {
      const segment = this.graph.segment(step);
      if (segment === null) this.ensureTop(step);
      else this.ensureSegment(segment);
    }
    return this.top;
  }

  /** Dagster inputs of a step's op, matching the arguments the body passes. */
  inputsOf(step: StepIR): OpInput[] {
    const g = this.graph;
    const inputs = g.inputsOf(step);
    if (inputs.length === 0) return [];
    const segment = g.segment(step);
    if (segment === `inputs:${step.name}`) return [{ name: ITEM_INPUT, list: true }];
    return this.isFanIn(step)
      ? [{ name: ITEM_INPUT, list: true }]
      : inputs.map((p) => ({ name: this.names.local(p), list: g.closedForeach(step) !== null }));
  }

  // Several possible inputs of which one arrives at run time: after a switch. Inside a
  // foreach body Dagster allows no fan-in; there untaken branches pass a marker instead.
  private isFanIn(step: StepIR): boolean {
    const g = this.graph;
    if (g.segment(step) !== null || g.inputsOf(step).length === 0) return false;
    // A join after a switch may see only some of its inputs (the branches taken), and
    // the guarded end op must run even without its real input, to fail the run.
    if (g.hasSwitch() && (step.type === "join" || this.guarded(step.name))) return g.closedForeach(step) === null;
    return step.type !== "join" && g.inputsOf(step).length > 1;
  }

  /**
   * With switches, a skipped branch must never silently skip the end step. Dagster skips
   * an op when every source of one of its inputs is missing, so the end op's only input
   * is one fan-in of its real inputs and the start op's guard output, which start always
   * emits (a marker, no path): the end op then always runs, and fails when nothing but
   * the guard arrived. (Metaflow's end step is never a join, so never reads a collect.)
   */
  guarded(step: string): boolean {
    const { startStep, endStep } = this.graph.ir.flow;
    return step === endStep && endStep !== startStep && this.graph.hasSwitch();
  }

  /** The start op emits the guard output (see `guarded`). */
  emitsGuard(step: string): boolean {
    return step === this.graph.ir.flow.startStep && this.guarded(this.graph.ir.flow.endStep);
  }

  private outsideInputs(step: StepIR): string[] {
    const g = this.graph;
    const here = g.segment(step);
    const out = g.inputsOf(step).filter((p) => g.segment(g.step(p)) !== here || here === `inputs:${step.name}`);
    if (g.isForeach(step) && g.depth(step) > 0) out.push(step.name);
    return out;
  }

  /** How a consumer in `context` refers to `p`'s output(s). */
  private ref(p: string, consumer: StepIR, context: string | null): JobArg {
    const g = this.graph;
    const producer = g.step(p);
    const segment = g.segment(producer);
    if (g.isForeach(producer) && producer.matchingJoin === consumer.name && segment === null) {
      // A top-level foreach feeding its own join directly (an empty body).
      const name = this.handle(p);
      return { kind: "collect", source: name, fn: null, results: name, assigned: true };
    }
    if (segment !== context) {
      if (segment === null) throw new Error(`step ${consumer.name} cannot read ${p} across a split`);
      this.ensureSegment(segment);
      return this.collectOf(this.exitFor(p, consumer), segment);
    }
    const exit = this.exitFor(p, consumer);
    return exit.attr === null
      ? { kind: "var", name: this.handle(p) }
      : { kind: "attr", name: this.names.local(p), attr: exit.attr };
  }

  /**
   * The expression for a step op's single (or dynamic) output. The start op that emits
   * the guard output has two outputs, so its call gives a tuple: read `.result` of it.
   */
  private handle(step: string): string {
    const name = this.names.local(step);
    return this.emitsGuard(step) && !this.hasBranchOutputs(step) ? `${name}.result` : name;
  }

  // A switch with one branch out (a loop's exit) has a single, unnamed output.
  private hasBranchOutputs(step: string): boolean {
    const producer = this.graph.step(step);
    return this.graph.isSwitch(producer) && new Set(producer.next.filter((t) => t !== step)).size > 1;
  }

  /** What `consumer` reads of `p`: its output, or (a switch) the branch leading there. */
  private exitFor(p: string, consumer: StepIR): Exit {
    if (this.hasBranchOutputs(p)) {
      const attr = branchName(consumer.name);
      return { key: `${p}.${attr}`, producer: p, attr };
    }
    return { key: p, producer: p, attr: null };
  }

  private exitExpression(exit: Exit): string {
    return exit.attr === null ? this.handle(exit.producer) : `${this.names.local(exit.producer)}.${exit.attr}`;
  }

  private exitResults(exit: Exit): string {
    return this.names.results(exit.attr === null ? exit.producer : `${exit.producer}_${exit.attr}`);
  }


  private collectOf(exit: Exit, segment: string): JobArg {
    const exits = this.exits.get(segment) ?? [];
    const inline = exits.length === 1 && (this.consumers.get(exit.key) ?? 0) === 1;
    return {
      kind: "collect",
      source: this.sourceVar(segment),
      fn: inline ? this.names.each(segment) : null,
      results: this.exitResults(exit),
      assigned: !inline,
    };
  }

  private sourceVar(segment: string): string {
    const g = this.graph;
    if (segment.startsWith("body:")) {
      const foreach = g.step(segment.slice(5));
      return g.depth(foreach) === 0 ? this.handle(foreach.name) : this.names.source(segment);
    }
    return this.names.source(segment);
  }

  private argsFor(step: StepIR, context: string | null, item: string | null): JobArg[] {
    const g = this.graph;
    const inputs = g.inputsOf(step);
    if (inputs.length === 0) return [];
    if (item !== null && (context === `inputs:${step.name}` || inputs.includes(context?.slice(5) ?? "\0"))) {
      return [{ kind: "var", name: item }];
    }
    const refs = inputs.map((p) => this.ref(p, step, context));
    if (this.guarded(step.name)) {
      const start = this.names.local(g.ir.flow.startStep);
      refs.push({ kind: "attr", name: start, attr: GUARD_OUTPUT });
    }
    return this.isFanIn(step) ? [{ kind: "list", items: refs }] : refs;
  }

  private ensureTop(step: StepIR): void {
    if (this.done.has(step.name)) return;
    this.done.add(step.name);
    const args = this.argsFor(step, null, null);
    this.top.push({ kind: "call", target: this.names.local(step.name), fn: this.names.op(step.name), args });
  }

  private ensureSegment(segment: string): void {
    if (this.done.has(segment)) return;
    this.done.add(segment);
    const g = this.graph;
    const entry = g.step(segment.slice(segment.indexOf(":") + 1));
    // The dynamic source the segment maps over.
    if (segment.startsWith("body:") && g.depth(entry) === 0) {
      this.ensureTop(entry);
    } else if (segment.startsWith("body:")) {
      const tasks = this.ref(entry.name, entry, null);
      this.top.push({ kind: "call", target: this.names.source(segment), fn: this.names.splitsOp(entry.name), args: [tasks] });
    } else {
      const lists = g.inputsOf(entry).map((p) => this.ref(p, entry, null));
      this.top.push({ kind: "call", target: this.names.source(segment), fn: this.names.inputsOp(entry.name), args: lists });
    }
    const item = segment.startsWith("body:") ? this.names.local(entry.name) : ITEM_INPUT;
    const body: JobNode[] = [];
    for (const step of g.ir.steps) {
      if (g.segment(step) !== segment) continue;
      const args = this.argsFor(step, segment, item);
      body.push({ kind: "call", target: this.names.local(step.name), fn: this.names.op(step.name), args });
    }
    const exits = this.exits.get(segment) ?? [];
    const fn = this.names.each(segment);
    const paramType = segment.startsWith("body:") ? "str" : "list[str]";
    const returns = exits.map((e) => this.exitExpression(e));
    this.top.push({ kind: "def", fn, param: item, paramType, body, returns });
    const inline = exits.length === 1 && (this.consumers.get(exits[0]?.key ?? "") ?? 0) === 1;
    if (!inline) {
      const targets = exits.map((e) => this.exitResults(e));
      this.top.push({ kind: "map", targets, source: this.sourceVar(segment), fn });
    }
  }
}

/**
 * The output of a switch op that leads to `target` (a Dagster output name). Output names
 * are path components under Dagster's filesystem IO manager, so long ones are shortened
 * (validate/names.ts); planJob refuses two outputs of one op that shorten alike.
 */
export function branchName(target: string): string {
  return fitDagsterName(pyIdent(target, BRANCH_RESERVED));
}

// Dagster's default output name, and namedtuple attributes of an op's outputs.
// The guard output shares the start op's outputs with its branches.
const BRANCH_RESERVED: ReadonlySet<string> = new Set([
  "result",
  "count",
  "index",
  GUARD_OUTPUT,
  ...DAGSTER_RESERVED_NAMES,
]);
