// The executor options that name steps (Celery queues), checked against the flow.
import type { Problem } from "../base/problems.js";
import type { FlowIR } from "../ir/index.js";

export function checkExecutorOptions(ir: FlowIR): Problem[] {
  const { kind, celeryQueues = {}, celeryGpuQueue = null } = ir.deploy.executor;
  const problems: Problem[] = [];
  const queued = Object.keys(celeryQueues);
  if (kind !== "celery" && (queued.length > 0 || celeryGpuQueue !== null)) {
    const option = queued.length > 0 ? "--celery-queue" : "--celery-gpu-queue";
    problems.push({
      message: `flow ${ir.flow.name}: ${option} routes steps to Celery queues, for the celery executor; this job's executor is '${kind}'`,
    });
  }
  const steps = new Set(ir.steps.map((s) => s.name));
  for (const step of queued) {
    if (!steps.has(step)) {
      problems.push({
        message: `flow ${ir.flow.name}: --celery-queue names step '${step}', which the flow does not have (its steps: ${[...steps].sort().join(", ")})`,
      });
    }
  }
  return problems;
}
