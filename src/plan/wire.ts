// Pass 3: the job body. Top-level steps are plain calls. Each segment (base/segment.ts)
// becomes a local function mapped over one top-level dynamic source: a top-level
// foreach's own output, a helper op that re-splits a nested foreach over composite keys,
// or a helper op that regroups collected inputs per split. Values leave a segment only
// through `.collect()`. Statements are emitted on demand, so their order is topological.
import { regroups, sameSegment, segmentKey, type Segment } from "../base/segment.js";
import { shapeOf, shapes } from "./analyze.js";
import { branchResultsKey, nameOf } from "./name.js";
import type { Analysis, JobArg, JobNode, NamePlan, OpInput, StepShape, Wiring } from "./types.js";

interface Exit {
  key: string;
  producer: string;
  attr: string | null;
}

export function wire(analysis: Analysis, names: NamePlan): Wiring {
  const builder = new Builder(analysis, names);
  const body = builder.build();
  const inputs = new Map(shapes(analysis).map((s) => [s.name, builder.inputsOf(s)]));
  return { body, inputs };
}

/** The end op is guarded (see Analysis.guardedEnd). */
export function guarded(analysis: Analysis, step: string): boolean {
  return step === analysis.endStep && analysis.guardedEnd;
}

/** The start op emits the guard output (see Analysis.guardedEnd). */
export function emitsGuard(analysis: Analysis, step: string): boolean {
  return step === analysis.startStep && analysis.guardedEnd;
}

class Builder {
  private readonly top: JobNode[] = [];
  private readonly done = new Set<string>();
  // Values leaving each segment (by segmentKey): a step's output, or one branch of a switch.
  private readonly exits = new Map<string, Exit[]>();
  private readonly consumers = new Map<string, number>();

  constructor(
    private readonly analysis: Analysis,
    private readonly names: NamePlan,
  ) {
    for (const step of shapes(analysis)) {
      for (const p of this.outsideInputs(step)) {
        const segment = this.shape(p).segment;
        if (segment === null) continue;
        const exit = this.exitFor(p, step);
        const key = segmentKey(segment);
        const list = this.exits.get(key) ?? [];
        if (!list.some((e) => e.key === exit.key)) list.push(exit);
        this.exits.set(key, list);
        this.consumers.set(exit.key, (this.consumers.get(exit.key) ?? 0) + 1);
      }
    }
  }

  build(): JobNode[] {
    for (const step of shapes(this.analysis)) {
      if (step.segment === null) this.ensureTop(step);
      else this.ensureSegment(step.segment);
    }
    return this.top;
  }

  /** Dagster inputs of a step's op, matching the arguments the body passes. */
  inputsOf(step: StepShape): OpInput[] {
    if (step.inputs.length === 0) return [];
    const nothing = this.analysis.derivedInputs;
    if (regroups(step.segment, step.name)) return [{ name: this.names.itemInput, list: true, nothing }];
    return this.isFanIn(step)
      ? [{ name: this.names.itemInput, list: true, nothing }]
      : step.inputs.map((p) => ({ name: this.local(p), list: step.closesForeach !== null, nothing }));
  }

  private shape(name: string): StepShape {
    return shapeOf(this.analysis, name);
  }

  private local(step: string): string {
    return nameOf(this.names.locals, step);
  }

  // Several possible inputs of which one arrives at run time: after a switch. Inside a
  // foreach body Dagster allows no fan-in; there untaken branches pass a marker instead.
  private isFanIn(step: StepShape): boolean {
    if (step.segment !== null || step.inputs.length === 0) return false;
    // A join after a switch may see only some of its inputs (the branches taken), and
    // the guarded end op must run even without its real input, to fail the run.
    if (this.analysis.hasSwitch && (step.type === "join" || guarded(this.analysis, step.name))) {
      return step.closesForeach === null;
    }
    return step.type !== "join" && step.inputs.length > 1;
  }

  private outsideInputs(step: StepShape): string[] {
    const here = step.segment;
    const out = step.inputs.filter((p) => !sameSegment(this.shape(p).segment, here) || regroups(here, step.name));
    if (step.fansOut && step.stack.length > 0) out.push(step.name);
    return out;
  }

  /** How a consumer in `context` refers to `p`'s output(s). */
  private ref(p: string, consumer: StepShape, context: Segment | null): JobArg {
    const producer = this.shape(p);
    const segment = producer.segment;
    if (producer.fansOut && producer.matchingJoin === consumer.name && segment === null) {
      // A top-level foreach feeding its own join directly (an empty body).
      const name = this.handle(p);
      return { kind: "collect", source: name, fn: null, results: name, assigned: true };
    }
    if (!sameSegment(segment, context)) {
      if (segment === null) throw new Error(`step ${consumer.name} cannot read ${p} across a split`);
      this.ensureSegment(segment);
      return this.collectOf(this.exitFor(p, consumer), segment);
    }
    const exit = this.exitFor(p, consumer);
    return exit.attr === null
      ? { kind: "var", name: this.handle(p) }
      : { kind: "attr", name: this.local(p), attr: exit.attr };
  }

  /**
   * The expression for a step op's single (or dynamic) output. The start op that emits
   * the guard output has two outputs, so its call gives a tuple: read `.result` of it.
   */
  private handle(step: string): string {
    const name = this.local(step);
    return emitsGuard(this.analysis, step) && !this.hasBranchOutputs(step) ? `${name}.result` : name;
  }

  // A switch with one branch out (a loop's exit) has a single, unnamed output.
  private hasBranchOutputs(step: string): boolean {
    return this.shape(step).targets.length > 1;
  }

  /** What `consumer` reads of `p`: its output, or (a switch) the branch leading there. */
  private exitFor(p: string, consumer: StepShape): Exit {
    if (this.hasBranchOutputs(p)) {
      const attr = this.names.branchOutput(consumer.name);
      return { key: `${p}.${attr}`, producer: p, attr };
    }
    return { key: p, producer: p, attr: null };
  }

  private exitExpression(exit: Exit): string {
    return exit.attr === null ? this.handle(exit.producer) : `${this.local(exit.producer)}.${exit.attr}`;
  }

  private exitResults(exit: Exit): string {
    const key = exit.attr === null ? exit.producer : branchResultsKey(exit.producer, exit.attr);
    return nameOf(this.names.results, key);
  }

  // One exit read once: `source.map(each).collect()` inline; else the map is assigned.
  private inline(segment: Segment): boolean {
    const exits = this.exits.get(segmentKey(segment)) ?? [];
    return exits.length === 1 && (this.consumers.get(exits[0]?.key ?? "") ?? 0) === 1;
  }

  private collectOf(exit: Exit, segment: Segment): JobArg {
    const exits = this.exits.get(segmentKey(segment)) ?? [];
    const inline = exits.length === 1 && (this.consumers.get(exit.key) ?? 0) === 1;
    return {
      kind: "collect",
      source: this.sourceVar(segment),
      fn: inline ? nameOf(this.names.each, segmentKey(segment)) : null,
      results: this.exitResults(exit),
      assigned: !inline,
    };
  }

  private sourceVar(segment: Segment): string {
    if (segment.kind === "body" && this.shape(segment.foreach).stack.length === 0) return this.handle(segment.foreach);
    return nameOf(this.names.sources, segmentKey(segment));
  }

  private argsFor(step: StepShape, context: Segment | null, item: string | null): JobArg[] {
    if (step.inputs.length === 0) return [];
    // The step that starts a segment reads the segment's item.
    const starts = regroups(context, step.name) || (context?.kind === "body" && step.inputs.includes(context.foreach));
    if (item !== null && starts) return [{ kind: "var", name: item }];
    const refs = step.inputs.map((p) => this.ref(p, step, context));
    if (guarded(this.analysis, step.name)) {
      refs.push({ kind: "attr", name: this.local(this.analysis.startStep), attr: this.names.guardOutput });
    }
    return this.isFanIn(step) ? [{ kind: "list", items: refs }] : refs;
  }

  private call(step: StepShape, args: JobArg[]): JobNode {
    const node: JobNode = { kind: "call", target: this.local(step.name), fn: nameOf(this.names.ops, step.name), args };
    // Dagster binds a `Nothing` input by position only when it is the op's one input.
    const inputs = this.inputsOf(step);
    if (inputs.length > 1 && inputs.every((i) => i.nothing)) {
      if (inputs.length !== args.length) throw new Error(`op of ${step.name}: ${args.length} args, ${inputs.length} inputs`);
      node.keywords = inputs.map((i) => i.name);
    }
    return node;
  }

  private ensureTop(step: StepShape): void {
    if (this.done.has(step.name)) return;
    this.done.add(step.name);
    this.top.push(this.call(step, this.argsFor(step, null, null)));
  }

  private ensureSegment(segment: Segment): void {
    const key = segmentKey(segment);
    if (this.done.has(key)) return;
    this.done.add(key);
    const entry = this.shape(segment.kind === "body" ? segment.foreach : segment.step);
    // The dynamic source the segment maps over.
    if (segment.kind === "body" && entry.stack.length === 0) {
      this.ensureTop(entry);
    } else if (segment.kind === "body") {
      const tasks = this.ref(entry.name, entry, null);
      const fn = nameOf(this.names.splitsOps, entry.name);
      this.top.push({ kind: "call", target: nameOf(this.names.sources, key), fn, args: [tasks] });
    } else {
      const lists = entry.inputs.map((p) => this.ref(p, entry, null));
      const fn = nameOf(this.names.inputsOps, entry.name);
      this.top.push({ kind: "call", target: nameOf(this.names.sources, key), fn, args: lists });
    }
    const item = segment.kind === "body" ? this.local(entry.name) : this.names.itemInput;
    const body: JobNode[] = [];
    for (const step of shapes(this.analysis)) {
      if (sameSegment(step.segment, segment)) body.push(this.call(step, this.argsFor(step, segment, item)));
    }
    const exits = this.exits.get(key) ?? [];
    const fn = nameOf(this.names.each, key);
    const derived = this.analysis.derivedInputs;
    const paramType = derived ? "Nothing" : segment.kind === "body" ? "str" : "list[str]";
    const returns = exits.map((e) => this.exitExpression(e));
    const returnType = derived ? "Nothing" : "str";
    this.top.push({ kind: "def", fn, param: item, paramType, returnType, body, returns });
    if (!this.inline(segment)) {
      const targets = exits.map((e) => this.exitResults(e));
      this.top.push({ kind: "map", targets, source: this.sourceVar(segment), fn });
    }
  }
}
