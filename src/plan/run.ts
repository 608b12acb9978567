// What Metaflow's own runtime does for a whole run, around its tasks, that the generated
// job reproduces: the @exit_hook functions after the run, the foreach width limit
// (`--max-num-splits`) and how much of each task's output is stored (`--max-log-size`).
import type { FlowIR } from "../ir/index.js";
import type { RunPlan } from "./types.js";

export function planRun(ir: FlowIR): RunPlan {
  const { maxNumSplits, maxLogSize } = ir.deploy;
  return {
    // Null without @exit_hook: the job's executor is then the plain one.
    exitHooks:
      ir.exitHooks.length === 0
        ? null
        : {
            onSuccess: ir.exitHooks.flatMap((hook) => hook.onSuccess),
            onError: ir.exitHooks.flatMap((hook) => hook.onError),
          },
    maxNumSplits,
    maxLogBytes: maxLogSize === null ? null : maxLogSize * 1024 * 1024,
  };
}
