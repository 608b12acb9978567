// `--executor celery` and `--executor k8s`: the job's executor and IO manager, the op tags
// they read (Celery queues, Kubernetes resources), the refusals, and the printed module.
// (tests/test_executors.py loads such modules in real Dagster and validates them with
// dagster-celery's and dagster-k8s's own schemas.)
import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import type { FlowIR } from "../src/ir/index.js";
import { celeryQueue, k8sConfig } from "../src/plan/job.js";
import { planModule } from "../src/plan/module.js";
import type { OpPlan } from "../src/plan/types.js";
import { CompileError, validate } from "../src/validate/index.js";
import { deco, flowIR, linearIR, stepOf } from "./support/ir.js";
import { realBundle } from "./support/runtime.js";

const RUNTIME = realBundle();

type Executor = FlowIR["deploy"]["executor"];

function executor(kind: Executor["kind"], extra: Partial<Executor> = {}): { deploy: Partial<FlowIR["deploy"]> } {
  return { deploy: { executor: { kind, maxWorkers: 16, fastLaunch: true, ...extra } } };
}

// start -> train (@resources gpu) -> nested foreach -> end, every op kind and helper ops.
function resourcesFlow(options: { deploy: Partial<FlowIR["deploy"]> }): FlowIR {
  const ir = flowIR(
    {
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: ["train"], join: true },
      train: ["end"],
      end: [],
    },
    options,
  );
  stepOf(ir, "start").decorators = [deco("resources", { cpu: "1", memory: "4096", gpu: null, disk: null, shared_memory: null })];
  stepOf(ir, "inner").decorators = [deco("resources", { cpu: 0.5, memory: 512, gpu: "2", disk: "20480", shared_memory: 1024 })];
  stepOf(ir, "train").decorators = [deco("resources", { cpu: "4", memory: "16000", gpu: 1, disk: null, shared_memory: null })];
  return ir;
}

function tagsOf(ops: readonly OpPlan[], fn: string): Record<string, unknown> {
  const op = ops.find((o) => o.fn === fn);
  if (op === undefined) throw new Error(`no op ${fn}`);
  return Object.fromEntries(op.tags);
}

describe("celery executor", () => {
  it("uses dagster-celery's executor unconfigured, and the event-log IO manager", () => {
    const plan = planModule(resourcesFlow(executor("celery")), RUNTIME);
    expect(plan.job.executor).toEqual({ kind: "celery", module: "dagster_celery", fn: "celery_executor" });
    expect(plan.job.ioManager).toBe("event_log_io_manager");
    expect(plan.imports).toContainEqual({ module: "dagster_celery", name: "celery_executor", alias: null });
    expect(plan.imports.some((i) => i.name === "multiprocess_executor")).toBe(false);
    expect(plan.runtime.parts.map((p) => p.name)).toContain("outputs");
    // The thread executor's machinery is not embedded.
    expect(plan.runtime.parts.map((p) => p.name)).not.toContain("executor");
  });

  it("routes a step named by --celery-queue, else a GPU step to the GPU queue, else none", () => {
    const ir = resourcesFlow(executor("celery", { celeryQueues: { start: "light", inner: "special" }, celeryGpuQueue: "gpu" }));
    expect(celeryQueue(ir, stepOf(ir, "start"))).toBe("light");
    // Named beats the GPU queue.
    expect(celeryQueue(ir, stepOf(ir, "inner"))).toBe("special");
    expect(celeryQueue(ir, stepOf(ir, "train"))).toBe("gpu");
    expect(celeryQueue(ir, stepOf(ir, "end"))).toBeNull();
    const { ops } = planModule(ir, RUNTIME);
    expect(tagsOf(ops, "op_start")["dagster-celery/queue"]).toBe("light");
    expect(tagsOf(ops, "op_inner")["dagster-celery/queue"]).toBe("special");
    expect(tagsOf(ops, "op_train")["dagster-celery/queue"]).toBe("gpu");
    expect(tagsOf(ops, "op_end")).not.toHaveProperty("dagster-celery/queue");
    // The helper ops of a step run no task: they stay on the default queue.
    expect(tagsOf(ops, "op_outer_splits")).not.toHaveProperty("dagster-celery/queue");
    expect(tagsOf(ops, "op_inner_join_inputs")).not.toHaveProperty("dagster-celery/queue");
    // The step's own tags stay, the queue comes after them.
    expect(Object.keys(tagsOf(ops, "op_train")).at(-1)).toBe("dagster-celery/queue");
  });

  it("leaves GPU steps on the default queue without --celery-gpu-queue", () => {
    const ir = resourcesFlow(executor("celery"));
    expect(celeryQueue(ir, stepOf(ir, "train"))).toBeNull();
    expect(planModule(ir, RUNTIME).ops.every((op) => op.tags.every(([k]) => k !== "dagster-celery/queue"))).toBe(true);
  });

  it("refuses a queue for a step the flow lacks, and queues for another executor", () => {
    const unknown = linearIR([], executor("celery", { celeryQueues: { nope: "q" } }));
    expect(() => validate(unknown)).toThrow(CompileError);
    expect(() => validate(unknown)).toThrow(/flow TestFlow: --celery-queue names step 'nope', which the flow does not have/);
    const wrongKind = linearIR([], executor("k8s", { celeryQueues: { start: "q" } }));
    expect(() => validate(wrongKind)).toThrow(/for the celery executor; this job's executor is 'k8s'/);
    const gpuOnly = linearIR([], executor("threads", { celeryGpuQueue: "gpu" }));
    expect(() => validate(gpuOnly)).toThrow(CompileError);
    expect(() => compile(unknown, RUNTIME)).toThrow(CompileError);
  });

  it("prints the executor, the IO manager, the import and the queue tag", () => {
    const source = compile(resourcesFlow(executor("celery", { celeryQueues: { end: "light" } })), RUNTIME);
    expect(source).toContain("from dagster_celery import celery_executor\n");
    // Its ops run away from the run's process: each watches the run for a cancel.
    expect(source).toContain("    remote_ops=True,\n");
    const threads = compile(resourcesFlow(executor("threads")), RUNTIME);
    expect(threads.slice(threads.indexOf("# ---- end of runtime ----"))).not.toContain("remote_ops");
    const after = source.slice(source.indexOf("# ---- end of runtime ----"));
    expect(after).toContain("    executor_def=celery_executor,\n");
    expect(after).toContain('    resource_defs={"io_manager": event_log_io_manager},\n');
    expect(after).toContain('tags={"dagster-celery/queue": "light"}');
  });

  it("wraps the executor to run @exit_hook functions", () => {
    const ir = linearIR([], { ...executor("celery"), exitHooks: [{ onSuccess: ["ok"], onError: [], options: {} }] });
    const source = compile(ir, RUNTIME);
    expect(source).toContain("executor_def=with_exit_hooks(FLOW, celery_executor),");
  });
});

describe("k8s executor", () => {
  it("uses dagster-k8s's executor and the event-log IO manager", () => {
    const plan = planModule(resourcesFlow(executor("k8s")), RUNTIME);
    expect(plan.job.executor).toEqual({ kind: "k8s", module: "dagster_k8s", fn: "k8s_job_executor" });
    expect(plan.job.ioManager).toBe("event_log_io_manager");
    expect(plan.imports).toContainEqual({ module: "dagster_k8s", name: "k8s_job_executor", alias: null });
  });

  it("turns @resources into dagster-k8s's container config", () => {
    const ir = resourcesFlow(executor("k8s"));
    expect(k8sConfig(stepOf(ir, "start"))).toEqual({
      container_config: { resources: { requests: { cpu: "1", memory: "4096Mi" } } },
    });
    expect(k8sConfig(stepOf(ir, "inner"))).toEqual({
      container_config: {
        resources: {
          requests: { cpu: "0.5", memory: "512Mi", "ephemeral-storage": "20480Mi" },
          limits: { "nvidia.com/gpu": "2" },
        },
        volume_mounts: [{ name: "dshm", mount_path: "/dev/shm" }],
      },
      pod_spec_config: { volumes: [{ name: "dshm", empty_dir: { medium: "Memory", size_limit: "1024Mi" } }] },
    });
    // No @resources: the executor's and the cluster's defaults.
    expect(k8sConfig(stepOf(ir, "end"))).toBeNull();
    const { ops } = planModule(ir, RUNTIME);
    expect(tagsOf(ops, "op_train")["dagster-k8s/config"]).toEqual({
      container_config: { resources: { requests: { cpu: "4", memory: "16000Mi" }, limits: { "nvidia.com/gpu": "1" } } },
    });
    expect(tagsOf(ops, "op_end")).toEqual({});
    expect(tagsOf(ops, "op_outer_splits")).not.toHaveProperty("dagster-k8s/config");
  });

  it("prints the config as a dict literal", () => {
    const source = compile(resourcesFlow(executor("k8s")), RUNTIME);
    expect(source).toContain("from dagster_k8s import k8s_job_executor\n");
    expect(source).toContain('"nvidia.com/gpu": "1"');
    expect(source).toContain("    executor_def=k8s_job_executor,\n");
  });
});

describe("threads and multiprocess", () => {
  it("threads pass outputs through the event log; multiprocess keeps Dagster's files", () => {
    const threads = planModule(resourcesFlow(executor("threads")), RUNTIME);
    expect(threads.job.ioManager).toBe("event_log_io_manager");
    expect(threads.runtime.parts.map((p) => p.name)).toContain("outputs");
    const multiprocess = planModule(resourcesFlow(executor("multiprocess")), RUNTIME);
    expect(multiprocess.job.ioManager).toBeNull();
    expect(multiprocess.runtime.parts.map((p) => p.name)).not.toContain("outputs");
    for (const plan of [threads, multiprocess]) {
      expect(plan.ops.every((op) => op.tags.every(([k]) => !k.startsWith("dagster-")))).toBe(true);
    }
  });
});
