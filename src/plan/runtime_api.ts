// The embedded runtime's names the generated code calls or annotates with. The plan
// records which of them a module uses (ModulePlan.runtimeNames), so the runtime can be
// embedded by need; these must stay top-level names of python/metaflow_dagster/runtime.

/** The FLOW literal's classes (runtime/model.py). */
export const FLOW_INFO = "FlowInfo";
export const STEP_INFO = "StepInfo";

/** Every op's first parameter's type. */
export const OP_CONTEXT = "OpExecutionContext";

/** Op entry points, by what the op does (see OpKind). */
export const RUN_STEP = "run_step";
export const RUN_START = "run_start";
export const FAN_OUT = "fan_out";
export const RUN_SWITCH = "run_switch";
export const SPLIT_AGAIN = "split_again";
export const REGROUP = "regroup";

// Under the multiprocess executor with fast launch, op processes fork from a server that
// has imported Dagster and Metaflow once, instead of each importing them afresh. Which
// modules the server imports is the runtime's business (FORKSERVER_PRELOAD).
export const PRELOAD = "FORKSERVER_PRELOAD";
// The runtime's executor that runs ops as threads of the run's process (executor.py).
export const THREAD_EXECUTOR = "thread_executor";
// The runtime's wrapper that runs the @exit_hook functions once the wrapped executor has
// executed the run (exit_hooks.py).
export const EXIT_HOOKS_EXECUTOR = "with_exit_hooks";

/** Sensor checks (automation.py). */
export const UPSTREAM_FINISHED = "upstream_finished";
export const EVENTS_ARRIVED = "events_arrived";

/** Names the runtime imports that generated code uses too: annotations, Config fields. */
export const ITERATOR = "Iterator";
export const OUTPUT = "Output";
export const DYNAMIC_OUTPUT = "DynamicOutput";
export const ANY = "Any";
export const JSON_MODULE = "json";
