import type { ParameterIR, StepIR } from "../ir/index.js";

/** One Dagster input of an op: a path (`str`) or a list of paths (fan-in). */
export interface OpInput {
  /** The Python parameter (and Dagster input) name. */
  name: string;
  list: boolean;
}

export interface RetryPlan {
  maxRetries: number;
  delaySeconds: number;
}

/**
 * How an op runs, i.e. which runtime entry point it calls:
 * - `step`: one task, one output (`run_step`);
 * - `foreach`: a top-level foreach: one task, then one dynamic output per split (`fan_out`);
 * - `switch`: one task (or one per loop iteration), then only the chosen branch's output;
 * - `splits`: helper op re-splitting a nested foreach over composite keys (`split_again`);
 * - `regroup`: helper op grouping collected paths by split for one step (`regroup`).
 */
export type OpKind = "step" | "foreach" | "switch" | "splits" | "regroup";

export interface OpPlan {
  kind: OpKind;
  /** The Metaflow step this op runs, or (helper ops) feeds. */
  step: StepIR;
  /** Function and Dagster op name. */
  fn: string;
  inputs: OpInput[];
  /** Switch ops: one optional output per branch target: [output name, target step]. */
  branches: [string, string][];
  /** The start op takes the flow's parameters as its config. */
  takesConfig: boolean;
  /** Runs once per foreach split (inside a `.map()`): switches then emit every branch. */
  mapped: boolean;
  retry: RetryPlan | null;
  docstring: string;
  /** The start op also emits the guard output that keeps the end op from being skipped. */
  emitsGuard: boolean;
  /** The end op fails, rather than pass a marker on, when only the guard arrived. */
  guarded: boolean;
}

/** Facts the runtime needs per step, baked into the FLOW literal. */
export interface StepFacts {
  step: StepIR;
  /** Directly after a foreach: the task gets `--split-index` from its mapping key. */
  split: boolean;
  foreachJoin: boolean;
  /** Switch: target step -> op output name. */
  branches: [string, string][];
  loop: boolean;
  mapped: boolean;
  /** `num_parallel`: the step's control task, and the join reading its mapper tasks. */
  parallel: boolean;
  parallelJoin: boolean;
}

/** An argument in the job body. */
export type JobArg =
  | { kind: "var"; name: string }
  | { kind: "attr"; name: string; attr: string }
  | { kind: "list"; items: JobArg[] }
  | {
      kind: "collect";
      /** `source.map(fn).collect()` inline, or `results.collect()` of an assigned map. */
      source: string;
      fn: string | null;
      results: string;
      /** True when `results` was assigned by a map statement (several exits). */
      assigned: boolean;
    };

/** A statement of the job body. */
export type JobNode =
  | { kind: "call"; target: string | null; fn: string; args: JobArg[] }
  | {
      kind: "def";
      fn: string;
      param: string;
      paramType: "str" | "list[str]";
      body: JobNode[];
      returns: string[];
    }
  | { kind: "map"; targets: string[]; source: string; fn: string };

export interface ConfigPlan {
  className: string;
  fields: { name: string; param: ParameterIR }[];
}

/** The hooks Metaflow's runtime runs once a run ended, in its order (decorator by decorator). */
export interface ExitHooksPlan {
  /** When the end step finished. */
  onSuccess: string[];
  /** Otherwise: a failed or terminated run. */
  onError: string[];
}

/** What the runtime does around the run's tasks (plan/run.ts). */
export interface RunPlan {
  /** Null: the flow has no @exit_hook. */
  exitHooks: ExitHooksPlan | null;
  /** Splits one foreach task may yield; null: no limit. */
  maxNumSplits: number | null;
  /** Bytes of a task's stdout (and of its stderr) stored; null: `run`'s default. */
  maxLogBytes: number | null;
}

export interface JobPlan {
  flowName: string;
  jobName: string;
  /** Module attribute holding the job: the flow class name. */
  jobAttr: string;
  ops: OpPlan[];
  facts: StepFacts[];
  body: JobNode[];
  config: ConfigPlan | null;
  run: RunPlan;
}
