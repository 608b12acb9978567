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
    if (g.segment(step) !== null || g.inputsOf(step).length === 0) return false;
    // A join after a switch may see only some of its inputs (the branches taken), and
    // the guarded end op must run even without its real input, to fail the run.
    if (g.hasSwitch() && (step.type === "join" || this.guarded(step))) return g.closedForeach(step) === null;
    return step.type !== "join" && g.inputsOf(step).length > 1;
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
      return this.collectOf(this.exitFor(p, consumer), segment);
    }
    const exit = this.exitFor(p, consumer);
    const name = this.names.local(p);
    return exit.attr === null ? { kind: "var", name } : { kind: "attr", name, attr: exit.attr };
  }

  /** What `consumer` reads of `p`: its output, or (a switch) the branch leading there. */
  private exitFor(p: string, consumer: StepIR): Exit {
    const producer = this.graph.step(p);
    // A switch with one branch out (a loop's exit) has a single, unnamed output.
    if (this.graph.isSwitch(producer) && new Set(producer.next.filter((t) => t !== p)).size > 1) {
      const attr = branchName(consumer.name);
      return { key: `${p}.${attr}`, producer: p, attr };
    }
    return { key: p, producer: p, attr: null };
  }

  private exitExpression(exit: Exit): string {
    const name = this.names.local(exit.producer);
    return exit.attr === null ? name : `${name}.${exit.attr}`;
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
const BRANCH_RESERVED: ReadonlySet<string> = new Set(["result", "count", "index", ...DAGSTER_RESERVED_NAMES]);
