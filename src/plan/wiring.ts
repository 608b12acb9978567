import type { StepIR } from "../ir/index.js";
import { pyIdent } from "../emit/printer/index.js";
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
  private readonly exits = new Map<string, string[]>();
  private readonly consumers = new Map<string, number>();

  constructor(
    private readonly graph: FlowGraph,
    private readonly names: Names,
  ) {
    for (const step of graph.ir.steps) {
      for (const p of this.outsideInputs(step)) {
        const segment = graph.segment(graph.step(p));
        if (segment === null) continue;
        const list = this.exits.get(segment) ?? [];
        if (!list.includes(p)) list.push(p);
        this.exits.set(segment, list);
        this.consumers.set(p, (this.consumers.get(p) ?? 0) + 1);
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
    const own: OpInput[] = this.isFanIn(step)
      ? [{ name: ITEM_INPUT, list: true }]
      : inputs.map((p) => ({ name: this.names.local(p), list: g.closedForeach(step) !== null }));
    if (this.guarded(step)) own.push({ name: "started", list: true });
    return own;
  }

  // Several possible inputs of which one arrives at run time: after a switch. Inside a
  // foreach body Dagster allows no fan-in; there untaken branches pass a marker instead.
  private isFanIn(step: StepIR): boolean {
    const g = this.graph;
    return step.type !== "join" && g.inputsOf(step).length > 1 && g.segment(step) === null;
  }

  // With switches, a skipped branch must never silently skip the end step: the end op
  // also hangs off the start op, so it runs and fails if its real input never came.
  private guarded(step: StepIR): boolean {
    const g = this.graph;
    const start = g.step(g.ir.flow.startStep);
    return (
      step.name === g.ir.flow.endStep &&
      step.name !== start.name &&
      g.hasSwitch() &&
      !g.isSwitch(start) &&
      !g.isForeach(start)
    );
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
      const name = this.names.local(p);
      return { kind: "collect", source: name, fn: null, results: name, assigned: true };
    }
    if (segment !== context) {
      if (segment === null) throw new Error(`step ${consumer.name} cannot read ${p} across a split`);
      this.ensureSegment(segment);
      return this.collectOf(p, segment);
    }
    const name = this.names.local(p);
    // A switch with one branch out (a loop's exit) has a single, unnamed output.
    if (g.isSwitch(producer) && new Set(producer.next.filter((t) => t !== p)).size > 1) {
      return { kind: "attr", name, attr: branchName(consumer.name) };
    }
    return { kind: "var", name };
  }


  private collectOf(p: string, segment: string): JobArg {
    const exits = this.exits.get(segment) ?? [];
    const inline = exits.length === 1 && (this.consumers.get(p) ?? 0) === 1;
    return {
      kind: "collect",
      source: this.sourceVar(segment),
      fn: inline ? this.names.each(segment) : null,
      results: this.names.results(p),
      assigned: !inline,
    };
  }

  private sourceVar(segment: string): string {
    const g = this.graph;
    if (segment.startsWith("body:")) {
      const foreach = g.step(segment.slice(5));
      return g.depth(foreach) === 0 ? this.names.local(foreach.name) : this.names.source(segment);
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
    const args: JobArg[] = this.isFanIn(step) ? [{ kind: "list", items: refs }] : refs;
    if (this.guarded(step)) args.push({ kind: "list", items: [this.ref(g.ir.flow.startStep, step, null)] });
    return args;
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
    this.top.push({ kind: "def", fn, param: item, paramType, body, returns: exits.map((e) => this.names.local(e)) });
    const inline = exits.length === 1 && (this.consumers.get(exits[0] ?? "") ?? 0) === 1;
    if (!inline) {
      this.top.push({ kind: "map", targets: exits.map((e) => this.names.results(e)), source: this.sourceVar(segment), fn });
    }
  }
}

/** The output of a switch op that leads to `target` (a Dagster output name). */
export function branchName(target: string): string {
  return pyIdent(target, BRANCH_RESERVED);
}

// Dagster's default output name, and namedtuple attributes of an op's outputs.
const BRANCH_RESERVED: ReadonlySet<string> = new Set(["result", "count", "index"]);
