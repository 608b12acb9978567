import type { ParameterIR, StepIR } from "../ir/index.js";

/** One Dagster input of an op: the output of an upstream step (a list when fanned in). */
export interface OpInput {
  /** The Python parameter (and Dagster input) name. */
  name: string;
  /** The upstream Metaflow step. */
  from: string;
  /** A list of upstream outputs (foreach join), in split order at run time. */
  fanIn: boolean;
}

export interface RetryPlan {
  maxRetries: number;
  delaySeconds: number;
}

/** One Dagster op per Metaflow step. */
export interface OpPlan {
  step: StepIR;
  /** Function and Dagster op name. */
  fn: string;
  /** `fan_out` (dynamic output per foreach split) or `run_step` (one output). */
  output: "single" | "dynamic";
  inputs: OpInput[];
  /** The start op takes the flow's parameters as its config. */
  takesConfig: boolean;
  retry: RetryPlan | null;
  /** Directly after a foreach: the task's split index comes from its mapping key. */
  split: boolean;
  /** Foreach join: runtime orders inputs by split index. */
  foreachJoin: boolean;
  docstring: string;
}

/** A statement of the job body. */
export type JobNode =
  | { kind: "call"; target: string; op: OpPlan; args: JobArg[] }
  | {
      kind: "foreach";
      /** The foreach step's dynamic output variable. */
      source: string;
      /** Local function that wires one split's body. */
      fn: string;
      param: string;
      body: JobNode[];
      /** Variable holding the body's last output, returned by `fn` (null: empty body). */
      result: string | null;
    };

/** An argument in the job body: a variable, or the collected results of a foreach. */
export type JobArg =
  | { kind: "var"; name: string }
  | {
      kind: "collect";
      source: string;
      fn: string | null;
      /** Variable for `source.map(fn)` when the one-line form is too wide to print. */
      results: string;
    };

export interface ConfigPlan {
  className: string;
  fields: { name: string; param: ParameterIR }[];
}

export interface JobPlan {
  flowName: string;
  jobName: string;
  /** Module attribute holding the job: the flow class name. */
  jobAttr: string;
  ops: OpPlan[];
  body: JobNode[];
  config: ConfigPlan | null;
}
