// What Metaflow's own runtime does for a whole run, around its tasks, that the generated
// job reproduces: the @exit_hook functions after the run, the foreach width limit
// (`--max-num-splits`) and how much of each task's output is stored (`--max-log-size`).
import type { FlowIR } from "../ir/index.js";

/** `python flow.py run --max-log-size` default, in megabytes (runtime: MAX_LOG_BYTES). */
export const METAFLOW_MAX_LOG_MB = 10;

/** The hooks Metaflow's runtime runs once a run ended, in its order (decorator by decorator). */
export interface ExitHooksPlan {
  /** When the end step finished. */
  onSuccess: string[];
  /** Otherwise: a failed or terminated run. */
  onError: string[];
}

/** The flow's exit hooks, or null without @exit_hook (the job's executor is then the plain one). */
export function planExitHooks(ir: FlowIR): ExitHooksPlan | null {
  if (ir.exitHooks.length === 0) return null;
  return {
    onSuccess: ir.exitHooks.flatMap((hook) => hook.onSuccess),
    onError: ir.exitHooks.flatMap((hook) => hook.onError),
  };
}

export interface RunLimitsPlan {
  /** Splits one foreach task may yield; null: no limit. */
  maxNumSplits: number | null;
  /** Bytes of a task's stdout (and of its stderr) stored in the datastore. */
  maxLogBytes: number;
  /** Whether maxLogBytes is Metaflow's default (the runtime's own default then applies). */
  defaultLogSize: boolean;
}

export function planRunLimits(ir: FlowIR): RunLimitsPlan {
  return {
    maxNumSplits: ir.deploy.maxNumSplits,
    maxLogBytes: ir.deploy.maxLogSize * 1024 * 1024,
    defaultLogSize: ir.deploy.maxLogSize === METAFLOW_MAX_LOG_MB,
  };
}
