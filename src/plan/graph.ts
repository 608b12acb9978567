import { segmentKey, type Segment } from "../base/segment.js";
import type { FlowIR, StepIR } from "../ir/index.js";

/**
 * Queries on the flow's graph, which the analysis pass (plan/analyze.ts) asks once per
 * step and stores as plain data. A "segment" (base/segment.ts) is a run of steps that
 * execute once per foreach split inside one Dagster `.map()`.
 */
export class FlowGraph {
  readonly byName: ReadonlyMap<string, StepIR>;
  private readonly stacks = new Map<string, readonly string[]>();
  private readonly entries = new Map<string, Segment | null>();

  constructor(readonly ir: FlowIR) {
    this.byName = new Map(ir.steps.map((s) => [s.name, s]));
  }

  step(name: string): StepIR {
    const step = this.byName.get(name);
    if (step === undefined) throw new Error(`unknown step ${name}`);
    return step;
  }

  /** A foreach that fans out into Dagster dynamic outputs (`num_parallel` does not). */
  isForeach(step: StepIR): boolean {
    return step.type === "foreach" && !parallelForeach(step);
  }

  isSwitch(step: StepIR): boolean {
    return step.type === "split-switch";
  }

  /** A switch that can choose itself again: a loop, each iteration its own task. */
  isLoop(step: StepIR): boolean {
    return this.isSwitch(step) && step.next.includes(step.name);
  }

  /** The join that closes a foreach (its inputs are that foreach's splits). */
  closedForeach(step: StepIR): StepIR | null {
    const parent = this.matchingSplit(step);
    return parent !== null && this.isForeach(parent) ? parent : null;
  }

  /** The join that closes `num_parallel` (its inputs are the control task's mappers). */
  closedParallel(step: StepIR): StepIR | null {
    const parent = this.matchingSplit(step);
    return parent !== null && parallelForeach(parent) ? parent : null;
  }

  /** A step started by `num_parallel`: its op runs the control task, which starts workers. */
  isParallel(step: StepIR): boolean {
    return this.inputsOf(step).some((p) => parallelForeach(this.step(p)));
  }

  private matchingSplit(step: StepIR): StepIR | null {
    if (step.type !== "join") return null;
    return this.byName.get(step.splitParents[step.splitParents.length - 1] ?? "") ?? null;
  }

  /** Enclosing foreaches still open at this step, outermost first. */
  stack(step: StepIR): readonly string[] {
    const cached = this.stacks.get(step.name);
    if (cached !== undefined) return cached;
    const open = step.splitParents.filter((p) => {
      const parent = this.byName.get(p);
      return parent !== undefined && this.isForeach(parent) && parent.matchingJoin !== step.name;
    });
    this.stacks.set(step.name, open);
    return open;
  }

  depth(step: StepIR): number {
    return this.stack(step).length;
  }

  /** Steps that feed this one (the start step's input is the run's parameters). */
  inputsOf(step: StepIR): string[] {
    return step.name === this.ir.flow.startStep ? [] : step.inFuncs.filter((p) => p !== step.name);
  }

  /**
   * The segment a step runs in: the body of a foreach when its split starts the step, or
   * the step's own `inputs` segment when it needs its inputs regrouped per split (a
   * nested foreach join, or a step whose inputs come from different segments). Null at
   * the top level.
   */
  segment(step: StepIR): Segment | null {
    if (this.entries.has(step.name)) return this.entries.get(step.name) ?? null;
    let result: Segment | null = null;
    if (this.depth(step) > 0) {
      const innermost = this.stack(step)[this.depth(step) - 1] ?? "";
      const inputs = this.inputsOf(step);
      const regroup: Segment = { kind: "inputs", step: step.name };
      if (inputs.includes(innermost)) {
        result = { kind: "body", foreach: innermost };
      } else if (this.closedForeach(step) !== null) {
        result = regroup;
      } else {
        // Inputs all in one segment: the step continues it.
        const parents = new Map(inputs.map((p) => this.segment(this.step(p))).map((s) => [s === null ? null : segmentKey(s), s]));
        result = parents.size === 1 ? ([...parents.values()][0] ?? null) : regroup;
      }
    }
    this.entries.set(step.name, result);
    return result;
  }

  hasSwitch(): boolean {
    return this.ir.steps.some((s) => this.isSwitch(s));
  }
}

/**
 * `self.next(..., num_parallel=N)`. N may be an expression (`num_parallel=self.n`), which
 * Metaflow's graph leaves unknown (numParallel 0, parallel true): the runtime reads the
 * real N from the control task.
 */
export function parallelForeach(step: StepIR): boolean {
  return step.type === "foreach" && (step.parallel || step.numParallel > 0);
}
