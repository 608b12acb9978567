// The module plan: every decision about the generated file, as plain data. The passes
// (plan/module.ts runs them in order) fill it; the renderers (emit/render/) only print
// it and never look at the IR. Field docs say what a value means, not how it prints.
import type { Segment } from "../base/segment.js";
import type { EventMapping, JsonValue, StepIR } from "../ir/index.js";
import type { PyImport, RuntimePart } from "../ir/runtime.js";

// ---- Pass 1, analyze: what the flow's graph means for Dagster ----------------------

/** One step as the later passes see it. */
export interface StepShape {
  name: string;
  type: StepIR["type"];
  /** Steps that feed this one, in Metaflow's order (the start step: none). */
  inputs: string[];
  /** Enclosing foreaches still open here (fanning out), outermost first. */
  stack: string[];
  /** The `.map()` the step runs in; null at the top level. */
  segment: Segment | null;
  /** A foreach fanning out into Dagster dynamic outputs (`num_parallel` does not). */
  fansOut: boolean;
  /** A switch (`split-switch`); `loop` when it can choose itself again. */
  switch: boolean;
  loop: boolean;
  /** Switch: the distinct steps it can lead to other than itself, in source order. */
  targets: string[];
  /** For a split or foreach: the join that closes it. */
  matchingJoin: string | null;
  /** The fanning-out foreach this join closes (its inputs are that foreach's splits). */
  closesForeach: string | null;
  /** The `num_parallel` foreach this join closes (its inputs are the control's mappers). */
  closesParallel: string | null;
  /** Started by `num_parallel`: its op runs the control task, which starts workers. */
  parallel: boolean;
  /** Directly after a fanning-out foreach: the task gets `--split-index`. */
  split: boolean;
}

export interface Analysis {
  flowName: string;
  startStep: string;
  endStep: string;
  /** Step names in the IR's order (Metaflow's). */
  order: string[];
  steps: ReadonlyMap<string, StepShape>;
  hasSwitch: boolean;
  /**
   * The end op is guarded: with switches, a skipped branch must never silently skip it,
   * so it also reads the start op's guard output and fails when only that arrived.
   */
  guardedEnd: boolean;
  /**
   * Ops pass each other nothing (inputs and outputs typed `Nothing`, which spares Dagster
   * three events per value); each finds its inputs' tasks itself (runtime/derived.py).
   * Only with the thread executor, no switch, one level of foreach, no `num_parallel`.
   */
  derivedInputs: boolean;
}

// ---- Pass 2, name: every generated Python and Dagster name (plan/namer.ts) ---------

export interface ConfigFieldNames {
  /** The Config field (Python attribute). */
  name: string;
  /** The parameter's own name, which users pass: the field's alias when it differs. */
  parameter: string;
}

export interface NamePlan {
  /** Module attribute holding the job (the flow class name). */
  jobAttr: string;
  /** The job's Dagster name. */
  jobName: string;
  /** @trigger_on_finish: the upstream flows' Dagster job names, in the IR's order. */
  upstreamJobs: string[];
  /** Step -> its op's function and Dagster name. */
  ops: ReadonlyMap<string, string>;
  /** Nested foreach step -> the helper op re-splitting it. */
  splitsOps: ReadonlyMap<string, string>;
  /** Regrouped step -> the helper op regrouping its inputs. */
  inputsOps: ReadonlyMap<string, string>;
  /** segmentKey -> the job body's function mapped over the segment. */
  each: ReadonlyMap<string, string>;
  /** segmentKey -> the variable holding the dynamic source (when not a foreach's own output). */
  sources: ReadonlyMap<string, string>;
  /** Step, or `<switch>:<output>` for one branch, -> the variable of its collected map results. */
  results: ReadonlyMap<string, string>;
  /** Step -> its output's variable in the job body, which is also its op input name. */
  locals: ReadonlyMap<string, string>;
  /** Switch -> its outputs: [output name, target step]. */
  branches: ReadonlyMap<string, [string, string][]>;
  /** The output each switch op emits for the branch leading to a step. */
  branchOutput: (target: string) => string;
  config: { className: string; fields: ConfigFieldNames[] } | null;
  /** Module attributes and Dagster names of the schedule and sensors. */
  schedule: { attr: string; name: string };
  onFinish: { attr: string; name: string };
  onEvents: { attr: string; name: string };
  lostRuns: { attr: string; name: string };
  /** The start op's extra output that keeps a guarded end op from being skipped. */
  guardOutput: string;
  /** The op input holding a fan-in's (or a regrouped segment's) list of paths. */
  itemInput: string;
}

// ---- Pass 3, wire: the job body ------------------------------------------------------

/** One Dagster input of an op: a path (`str`) or a list of paths (fan-in). */
export interface OpInput {
  /** The Python parameter (and Dagster input) name. */
  name: string;
  list: boolean;
  /** Typed `Nothing`: an order only, no value (Analysis.derivedInputs); no parameter. */
  nothing: boolean;
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
  | {
      kind: "call";
      target: string | null;
      fn: string;
      args: JobArg[];
      /** The inputs the args go to, by keyword (Dagster binds `Nothing` inputs only by
       * name); null: by position. */
      keywords?: string[];
    }
  | {
      kind: "def";
      fn: string;
      param: string;
      /** `Nothing` where ops pass no values (Analysis.derivedInputs), as the returns. */
      paramType: "str" | "list[str]" | "Nothing";
      returnType: "str" | "Nothing";
      body: JobNode[];
      returns: string[];
    }
  | { kind: "map"; targets: string[]; source: string; fn: string };

export interface Wiring {
  body: JobNode[];
  /** Step -> its op's inputs, matching the arguments the body passes. */
  inputs: ReadonlyMap<string, OpInput[]>;
}

// ---- Pass 4, ops -----------------------------------------------------------------------

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

/** One output of an op: `Out(type)`, or `DynamicOut(type)`, maybe not required. */
export interface OpOutput {
  name: string;
  dynamic: boolean;
  type: "str" | "list[str]" | "Nothing";
  /** False: the op may not emit it (an untaken switch branch at the top level). */
  required: boolean;
}

/** An op tag's value: a string, or (dagster-k8s's config) JSON that Dagster stores as text. */
export type TagValue = string | readonly TagValue[] | { readonly [key: string]: TagValue };

/** The list of input paths the op passes the runtime. */
export type OpPaths =
  | { kind: "none" }
  /** The one list input as it is. */
  | { kind: "input"; name: string }
  /** A list of the inputs; `spread` ones are lists themselves, spliced in. */
  | { kind: "list"; items: { name: string; spread: boolean }[] };

export interface OpPlan {
  kind: OpKind;
  /** The Metaflow step this op runs, or (helper ops) feeds. */
  step: string;
  /** Function and Dagster op name. */
  fn: string;
  docstring: string;
  /** What the UI shows for the op when the step has a docstring (the docstring, then
   * the op's own); null: Dagster shows `docstring`. */
  description: string | null;
  inputs: OpInput[];
  /** Outputs; a lone `result` is Dagster's default output (`out=Out(...)`). */
  outputs: OpOutput[];
  /** Switch ops: one output per branch target: [output name, target step]. */
  branches: [string, string][];
  /** The Config class of the flow's parameters, when this (the start) op takes it. */
  config: string | null;
  /** Runs once per foreach split (inside a `.map()`): switches then emit every branch. */
  mapped: boolean;
  retry: RetryPlan | null;
  /** Dagster op tags (@resources, @timeout, the executor's routing), in order; empty: none. */
  tags: [string, TagValue][];
  /** The op's return annotation. */
  returns: string;
  /** How the op's body calls the runtime: a generator's `yield from`, `return` of its
   * one path, or a bare call (an op with a `Nothing` output returns nothing). */
  statement: "yield from" | "return" | "call";
  /** The runtime entry point the op calls, with the step's name and its input paths. */
  call: string;
  paths: OpPaths;
  /** Pass the config to the runtime as the run's parameters. */
  params: boolean;
  /** The end op fails, rather than pass a marker on, when only the guard arrived. */
  guarded: boolean;
  /** The start op also emits the guard output (told to the runtime unless `run_start`). */
  emitsGuard: boolean;
  emitGuardArg: boolean;
  /** Passes no values (Analysis.derivedInputs): the runtime finds its inputs. */
  derived: boolean;
}

// ---- Pass 5, flow data: the FLOW literal and the Config class -----------------------

/** Facts the runtime needs per step, baked into the FLOW literal (StepInfo). */
export interface StepFacts {
  name: string;
  /** Directly after a foreach: the task gets `--split-index` from its mapping key. */
  split: boolean;
  foreachJoin: boolean;
  /** Switch: [op output name, target step]. */
  branches: [string, string][];
  loop: boolean;
  /** Runs inside a `.map()`. */
  mapped: boolean;
  /** A switch inside a `.map()`: it emits every branch (untaken ones a marker). */
  mappedSwitch: boolean;
  /** `num_parallel`: the step's control task, and the join reading its mapper tasks. */
  parallel: boolean;
  parallelJoin: boolean;
  userRetries: number;
  errorRetries: number;
  withSpecs: string[];
  /** @environment variables, sorted by name. */
  env: [string, string][];
  /** The effective @timeout in seconds (the op enforces it). */
  timeout: number | null;
  /** The step has a @card: only then does its op look for cards. */
  cards: boolean;
  /** With derived inputs (Analysis.derivedInputs): the steps feeding this one, in
   * Metaflow's order, and the foreach whose splits run it (null: none); else empty. */
  inputs: string[];
  within: string | null;
}

/** The flow's assets (`FlowInfo.assets`): keys are lists of Dagster key parts. */
export interface AssetsPlan {
  /** The flow's own asset; each artifact's key is this plus the artifact's name. */
  key: string[];
  /** End-step artifacts declared as assets, sorted. */
  artifacts: string[];
  /** The flow assets of @trigger_on_finish's upstream flows. */
  upstream: string[][];
  /** The Dagster asset group: the job's name. */
  group: string;
}

/** `FLOW = FlowInfo(...)`: every fact about the flow, baked at create time. */
export interface FlowInfoPlan {
  name: string;
  file: string;
  startStep: string;
  endStep: string;
  steps: StepFacts[];
  topLevelArgs: string[];
  datastore: string;
  datastoreRoot: string | null;
  metadata: string;
  tags: string[];
  namespace: string | null;
  owner: string | null;
  /** Parameter name -> type. */
  parameters: [string, string][];
  /** The runtime's fast launch (tasks start warm) to pass; null: tasks start cold. */
  fastLaunch: string | null;
  /** Ops run away from the run's process (a distributed executor): each watches the run. */
  remoteOps: boolean;
  /** Seconds without a report from the run's process before a run counts as lost. */
  lostRunAfter: number | null;
  workflowTimeout: number | null;
  /** Splits one foreach task may yield; null: no limit. */
  maxNumSplits: number | null;
  /** Bytes of a task's stdout (and of its stderr) stored; null: `run`'s default. */
  maxLogBytes: number | null;
  /** Config values by name, sorted: [name, JSON text, plain]. */
  configs: [string, string, boolean][];
  /** @trigger_on_finish: the upstream Dagster job names; null without the decorator. */
  triggerOnFinish: string[] | null;
  /** @trigger: each event's parameter -> payload field mapping; null without it. */
  triggerEvents: EventMapping[] | null;
  /** @exit_hook functions, in Metaflow's order. */
  exitHooksOnSuccess: string[];
  exitHooksOnError: string[];
  /** The flow's assets; null: none (`--no-assets`). */
  assets: AssetsPlan | null;
  /** Ops find their inputs' tasks themselves (Analysis.derivedInputs). */
  derivedInputs: boolean;
}

/** How a Config field's default is written. */
export type FieldDefault =
  | { kind: "none" }
  | { kind: "value"; value: JsonValue }
  /** A float parameter's default: always written as a float. */
  | { kind: "float"; value: number }
  /** Python's own JSON text of a json default, loaded at import: it keeps 1.0 a float. */
  | { kind: "jsonText"; text: string };

export interface ConfigField {
  name: string;
  /** The user-facing parameter name: the field's alias when it differs from `name`. */
  parameter: string;
  annotation: string;
  default: FieldDefault;
  description: string | null;
}

/** The start op's Config class: one typed field per Metaflow Parameter. */
export interface ConfigPlan {
  className: string;
  docstring: string;
  fields: ConfigField[];
}

// ---- Pass 6, automation: schedules, sensors and `defs` --------------------------------

export interface SchedulePlan {
  /** Module attribute holding the ScheduleDefinition. */
  attr: string;
  /** Dagster schedule name (unique per deployment: derived from the job name). */
  name: string;
  /** 5-field cron for Dagster. */
  cron: string;
  /** IANA time zone, or null for UTC (Dagster's default, as EventBridge). */
  timezone: string | null;
  description: string;
}

export interface SensorPlan {
  /** Module attribute: the sensor function. */
  attr: string;
  name: string;
  description: string;
  docstring: string;
  /** The runtime function that decides: called with the sensor's context, FLOW, `args`. */
  check: string;
  /** Further arguments, as Python literals (the start op's name, or None without one). */
  args: (string | null)[];
}

export interface AutomationPlan {
  /** Schedules and sensors start RUNNING, as Metaflow's production schedulers do. */
  schedule: SchedulePlan | null;
  sensors: SensorPlan[];
  /** The runtime function that makes FLOW's asset specs for `defs`; null: no assets. */
  assets: string | null;
}

// ---- Pass 7, job -----------------------------------------------------------------------

/** The job's executor: one of the runtime's, maybe wrapped to run @exit_hook functions. */
export type ExecutorPlan =
  | { kind: "threads"; fn: string; maxConcurrent: number }
  /** Dagster's multiprocess executor; `preload`: the runtime's fork-server module list. */
  | { kind: "multiprocess"; maxConcurrent: number; preload: string | null }
  /**
   * An executor of a Dagster integration library, imported from `module` and used as it
   * is (configured by run config): dagster-celery's `celery_executor`, dagster-k8s's
   * `k8s_job_executor`. Their steps run on other machines.
   */
  | { kind: "celery" | "k8s"; module: string; fn: string };

export interface JobPlan {
  /** Module attribute holding the job: the flow class name. */
  attr: string;
  /** The Dagster job name. */
  name: string;
  description: string | null;
  tags: [string, string][];
  executor: ExecutorPlan;
  /**
   * The runtime's IO manager the job's ops pass outputs through (`io_manager`), when
   * Dagster's default (files under $DAGSTER_HOME) would not reach its steps; null: the default.
   */
  ioManager: string | null;
  /** The runtime's executor wrapper that runs @exit_hook functions, if any. */
  exitHooksWrapper: string | null;
  docstring: string;
  body: JobNode[];
}

// ---- The whole module ------------------------------------------------------------------

export interface ModulePlan {
  header: {
    flowName: string;
    /** The flow file's base name. */
    file: string;
    generator: string;
    version: string;
    /** The command that regenerates the file (argument list). */
    regenerate: string[];
  };
  /** The call that checks the installed versions as the file loads. */
  versionCheck: { call: string; compiledWith: [string, string][] };
  /** The generated code's own imports (merged with the runtime's when printed). */
  imports: PyImport[];
  flow: FlowInfoPlan;
  config: ConfigPlan | null;
  ops: OpPlan[];
  job: JobPlan;
  automation: AutomationPlan;
  /** Every name defined by the embedded runtime that the generated code after it
   * refers to, sorted. */
  runtimeNames: readonly string[];
  /** The runtime parts those names need. */
  runtime: RuntimePlan;
}

/** What of the runtime a module embeds. */
export interface RuntimePlan {
  /** In the bundle's order; printed verbatim. */
  parts: RuntimePart[];
  /** Their imports, each binding once (merged with the module's own when printed). */
  imports: PyImport[];
}
