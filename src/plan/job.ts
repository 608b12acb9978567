// Pass 7: the job: its decorator's data (name, description, tags, executor, IO manager)
// and the body the wiring pass built. The job function reads like the flow's graph; the
// job object is named after the flow. Also the op tags the executor reads (Celery
// queues, Kubernetes resources), added to the ops of pass 4.
import type { FlowIR, JsonValue, StepIR } from "../ir/index.js";
import { EXECUTOR_IMPORTS } from "./namer.js";
import { EVENT_LOG_IO_MANAGER, EXIT_HOOKS_EXECUTOR, PRELOAD, THREAD_EXECUTOR } from "./runtime_api.js";
import { jobTags } from "./tags.js";
import type { ExecutorPlan, JobPlan, NamePlan, OpPlan, TagValue, Wiring } from "./types.js";

/** dagster-celery's op tag naming the Celery queue a step's task is sent to. */
export const CELERY_QUEUE_TAG = "dagster-celery/queue";
/** dagster-k8s's op tag: raw Kubernetes config of the step's job (USER_DEFINED_K8S_CONFIG_KEY). */
export const K8S_CONFIG_TAG = "dagster-k8s/config";

type ExecutorKind = FlowIR["deploy"]["executor"]["kind"];

function executor(ir: FlowIR): ExecutorPlan {
  const { kind, maxWorkers, fastLaunch } = ir.deploy.executor;
  if (kind === "threads") return { kind, fn: THREAD_EXECUTOR, maxConcurrent: maxWorkers };
  if (kind === "multiprocess") return { kind, maxConcurrent: maxWorkers, preload: fastLaunch ? PRELOAD : null };
  const { module, name } = EXECUTOR_IMPORTS[kind];
  return { kind, module, fn: name };
}

export function planJobDef(ir: FlowIR, names: NamePlan, wiring: Wiring): JobPlan {
  return {
    attr: names.jobAttr,
    name: names.jobName,
    description: ir.deploy.description,
    tags: Object.entries({ "metaflow/flow": ir.flow.name, ...jobTags(ir) }),
    executor: executor(ir),
    // Op outputs go through the run's event log, which every machine of a deployment
    // shares: Celery workers and Kubernetes pods share no disk with the run, and a run
    // of the thread executor may be re-executed on another run worker (a Celery run
    // launcher's). Under the multiprocess executor each op is a process that would
    // read the run's events afresh (quadratic in the run's width): Dagster's files.
    ioManager: ir.deploy.executor.kind === "multiprocess" ? null : EVENT_LOG_IO_MANAGER,
    // Without @exit_hook the job's executor is the plain one.
    exitHooksWrapper: ir.exitHooks.length > 0 ? EXIT_HOOKS_EXECUTOR : null,
    docstring: `Metaflow flow ${ir.flow.name}, one op per step.`,
    body: wiring.body,
  };
}

/** The runtime names the job's executor and IO manager use. */
export function jobRuntimeNames(job: JobPlan): string[] {
  const names: string[] = [];
  if (job.executor.kind === "threads") names.push(job.executor.fn);
  else if (job.executor.kind === "multiprocess" && job.executor.preload !== null) names.push(job.executor.preload);
  if (job.ioManager !== null) names.push(job.ioManager);
  if (job.exitHooksWrapper !== null) names.push(job.exitHooksWrapper);
  return names;
}

// ---- Op tags the executor reads ------------------------------------------------------

function resources(step: StepIR): Record<string, JsonValue> | null {
  return step.decorators.find((d) => d.name === "resources")?.attributes ?? null;
}

/** An attribute as Kubernetes' quantity text; null when unset. */
function quantity(value: JsonValue | undefined, unit = ""): string | null {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value !== "string" && typeof value !== "number") return null;
  return `${String(value)}${unit}`;
}

function gpus(step: StepIR): number {
  const value = Number(resources(step)?.["gpu"] ?? 0);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * The Celery queue of a step's task: the one `--celery-queue` names for it, else, for a
 * step with @resources(gpu > 0), `--celery-gpu-queue` if given; null: Celery's default
 * queue (dagster-celery's `dagster`).
 */
export function celeryQueue(ir: FlowIR, step: StepIR): string | null {
  const { celeryQueues = {}, celeryGpuQueue = null } = ir.deploy.executor;
  const named = celeryQueues[step.name];
  if (named !== undefined) return named;
  return gpus(step) > 0 ? celeryGpuQueue : null;
}

/**
 * A step's @resources as dagster-k8s's container config (the `dagster-k8s/config` op
 * tag), as Metaflow's @kubernetes asks for them: requests for cpu, memory (MB, as Mi)
 * and disk (ephemeral storage), an `nvidia.com/gpu` limit for gpu > 0, and a memory
 * volume on /dev/shm for shared_memory. Null for a step without @resources.
 */
export function k8sConfig(step: StepIR): { [key: string]: TagValue } | null {
  const attrs = resources(step);
  if (attrs === null) return null;
  const requests: Record<string, string> = {};
  const entries: [string, string | null][] = [
    ["cpu", quantity(attrs["cpu"])],
    ["memory", quantity(attrs["memory"], "Mi")],
    ["ephemeral-storage", quantity(attrs["disk"], "Mi")],
  ];
  for (const [name, value] of entries) if (value !== null) requests[name] = value;
  const resourcesConfig: { [key: string]: TagValue } = { requests };
  const gpu = gpus(step);
  if (gpu > 0) resourcesConfig["limits"] = { "nvidia.com/gpu": String(gpu) };
  const container: { [key: string]: TagValue } = { resources: resourcesConfig };
  const config: { [key: string]: TagValue } = { container_config: container };
  const shm = quantity(attrs["shared_memory"], "Mi");
  if (shm !== null) {
    container["volume_mounts"] = [{ name: "dshm", mount_path: "/dev/shm" }];
    config["pod_spec_config"] = { volumes: [{ name: "dshm", empty_dir: { medium: "Memory", size_limit: shm } }] };
  }
  return config;
}

/** The tags the job's executor reads on the ops that run a step's task. */
export function executorOpTags(ir: FlowIR, step: StepIR): [string, TagValue][] {
  const kind = ir.deploy.executor.kind;
  if (kind === "celery") {
    const queue = celeryQueue(ir, step);
    return queue === null ? [] : [[CELERY_QUEUE_TAG, queue]];
  }
  if (kind === "k8s") {
    const config = k8sConfig(step);
    return config === null ? [] : [[K8S_CONFIG_TAG, config]];
  }
  return [];
}

/**
 * The ops with their executor's tags. Only ops that run a Metaflow task get them: the
 * helper ops (`splits`, `regroup`) only read the datastore, and need neither a step's
 * queue (a GPU worker's, say) nor its resources.
 */
export function withExecutorTags(ir: FlowIR, ops: readonly OpPlan[]): OpPlan[] {
  const steps = new Map(ir.steps.map((s) => [s.name, s]));
  return ops.map((op) => {
    const step = steps.get(op.step);
    if (step === undefined || op.kind === "splits" || op.kind === "regroup") return op;
    const extra = executorOpTags(ir, step);
    return extra.length === 0 ? op : { ...op, tags: [...op.tags, ...extra] };
  });
}
