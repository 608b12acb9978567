// The names the generated code calls or annotates with. The plan records which of them
// a module uses: the runtime's (ModulePlan.runtimeNames) pick the runtime parts it
// embeds, and must stay top-level names of python/metaflow_dagster/runtime; the rest it
// imports (IMPORTED).
import type { PyImport } from "../ir/runtime.js";

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

// Fast launch: the object FLOW names to start tasks warm (fast_launch.py); a module
// without it embeds none of that machinery.
export const FAST_LAUNCH = "FAST_LAUNCH";
// Under the multiprocess executor with fast launch, op processes fork from a server that
// has imported Dagster and Metaflow once, instead of each importing them afresh. Which
// modules the server imports is the runtime's business (FORKSERVER_PRELOAD).
export const PRELOAD = "FORKSERVER_PRELOAD";
// The runtime's executor that runs ops as threads of the run's process (executor.py).
export const THREAD_EXECUTOR = "thread_executor";
// The IO manager that keeps op outputs in the run's event log (outputs.py), for
// executors whose steps run where Dagster's default IO manager's files are not.
export const EVENT_LOG_IO_MANAGER = "event_log_io_manager";
// The runtime's wrapper that runs the @exit_hook functions once the wrapped executor has
// executed the run (exit_hooks.py).
export const EXIT_HOOKS_EXECUTOR = "with_exit_hooks";

/** Called as the file loads: warns when Dagster or Metaflow is outside the runtime's
 * supported range (dagster_adapter.py). */
export const CHECK_VERSIONS = "check_versions";

/** Sensor checks (automation.py). */
export const UPSTREAM_FINISHED = "upstream_finished";
export const EVENTS_ARRIVED = "events_arrived";
export const LOST_RUNS = "lost_runs";

/** The flow's assets: FLOW's data (model.py) and the specs `defs` declares (assets.py). */
export const FLOW_ASSETS = "FlowAssets";
export const ASSET_SPECS = "flow_assets";

/** Names generated code imports for itself: annotations, Config fields. */
export const ITERATOR = "Iterator";
export const OUTPUT = "Output";
export const DYNAMIC_OUTPUT = "DynamicOutput";
export const ANY = "Any";
export const JSON_MODULE = "json";

// Where each comes from: the module the runtime imports it from too, so the merged
// import block binds each name once (two sources would be a redefinition, ruff's F811).
export const IMPORTED: ReadonlyMap<string, PyImport> = new Map(
  (
    [
      [OP_CONTEXT, "dagster"],
      [OUTPUT, "dagster"],
      [DYNAMIC_OUTPUT, "dagster"],
      [ITERATOR, "collections.abc"],
      [ANY, "typing"],
    ] as const
  )
    .map(([name, module]): [string, PyImport] => [name, { module, name, alias: null }])
    .concat([[JSON_MODULE, { module: JSON_MODULE, name: null, alias: null }]]),
);
