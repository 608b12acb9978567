// Pass 7: the job: its decorator's data (name, description, tags, executor) and the body
// the wiring pass built. The job function reads like the flow's graph; the job object
// is named after the flow.
import type { FlowIR } from "../ir/index.js";
import { EXIT_HOOKS_EXECUTOR, PRELOAD, THREAD_EXECUTOR } from "./runtime_api.js";
import { jobTags } from "./tags.js";
import type { ExecutorPlan, JobPlan, NamePlan, Wiring } from "./types.js";

function executor(ir: FlowIR): ExecutorPlan {
  const { kind, maxWorkers, fastLaunch } = ir.deploy.executor;
  if (kind === "threads") return { kind, fn: THREAD_EXECUTOR, maxConcurrent: maxWorkers };
  return { kind, maxConcurrent: maxWorkers, preload: fastLaunch ? PRELOAD : null };
}

export function planJobDef(ir: FlowIR, names: NamePlan, wiring: Wiring): JobPlan {
  return {
    attr: names.jobAttr,
    name: names.jobName,
    description: ir.deploy.description,
    tags: Object.entries({ "metaflow/flow": ir.flow.name, ...jobTags(ir) }),
    executor: executor(ir),
    // Without @exit_hook the job's executor is the plain one.
    exitHooksWrapper: ir.exitHooks.length > 0 ? EXIT_HOOKS_EXECUTOR : null,
    docstring: `Metaflow flow ${ir.flow.name}, one op per step.`,
    body: wiring.body,
  };
}

/** The runtime names the job's executor uses. */
export function jobRuntimeNames(job: JobPlan): string[] {
  const names: string[] = [];
  if (job.executor.kind === "threads") names.push(job.executor.fn);
  else if (job.executor.preload !== null) names.push(job.executor.preload);
  if (job.exitHooksWrapper !== null) names.push(job.exitHooksWrapper);
  return names;
}
