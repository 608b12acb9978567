// Pass 5: the data of `FLOW = FlowInfo(...)`, every fact the runtime needs about the
// flow and its steps, baked at create time.
import { resolveEventMappings, type FlowIR, type StepIR } from "../ir/index.js";
import { shapeOf } from "./analyze.js";
import { planAssets } from "./assets.js";
import { FAST_LAUNCH } from "./runtime_api.js";
import type { Analysis, FlowInfoPlan, NamePlan, StepFacts } from "./types.js";

function byName<T>(entries: [string, T][]): [string, T][] {
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function stepFacts(step: StepIR, analysis: Analysis, names: NamePlan): StepFacts {
  const shape = shapeOf(analysis, step.name);
  const branches = shape.switch ? (names.branches.get(step.name) ?? []) : [];
  const mapped = shape.segment !== null;
  return {
    name: step.name,
    split: shape.split,
    foreachJoin: shape.closesForeach !== null,
    branches,
    loop: shape.loop,
    mapped,
    mappedSwitch: mapped && branches.length > 0,
    parallel: shape.parallel,
    parallelJoin: shape.closesParallel !== null,
    userRetries: step.retries.user,
    errorRetries: step.retries.error,
    withSpecs: step.withSpecs,
    env: byName(Object.entries(step.environment)),
    timeout: step.timeoutSeconds,
    // In source or from `--with card`.
    cards: step.decorators.some((d) => d.name === "card"),
    // Where ops find their inputs themselves: what they need to name them.
    inputs: analysis.derivedInputs ? shape.inputs : [],
    within: analysis.derivedInputs ? (shape.stack[shape.stack.length - 1] ?? null) : null,
  };
}

export function planFlowInfo(ir: FlowIR, analysis: Analysis, names: NamePlan): FlowInfoPlan {
  const d = ir.deploy;
  const events = ir.automation.events === null ? null : resolveEventMappings(ir).events;
  const onFinish = ir.automation.onFinish;
  return {
    name: ir.flow.name,
    file: ir.flow.file,
    startStep: ir.flow.startStep,
    endStep: ir.flow.endStep,
    steps: ir.steps.map((s) => stepFacts(s, analysis, names)),
    topLevelArgs: d.topLevelArgs,
    datastore: d.datastore,
    datastoreRoot: d.datastoreRoot,
    metadata: d.metadata,
    tags: d.tags,
    namespace: d.namespace,
    owner: d.owner,
    parameters: ir.parameters.map((p) => [p.name, p.type]),
    // Fast launch: tasks start warm, from the op process or a launcher (runtime/fast_launch.py).
    fastLaunch: d.executor.fastLaunch ? FAST_LAUNCH : null,
    // Celery and Kubernetes ops run away from the run's process: each watches the run.
    remoteOps: d.executor.kind === "celery" || d.executor.kind === "k8s",
    // The thread executor reports the run's liveness; a sensor fails silent runs.
    lostRunAfter: d.executor.kind === "threads" ? (d.executor.lostRunAfter ?? null) : null,
    workflowTimeout: d.workflowTimeout,
    // As `python flow.py run --max-num-splits`; null: no limit, as Metaflow's schedulers.
    maxNumSplits: d.maxNumSplits,
    maxLogBytes: d.maxLogSize === null ? null : d.maxLogSize * 1024 * 1024,
    configs: byName(Object.entries(d.configs)).map(([name, c]) => [name, c.json, c.plain]),
    triggerOnFinish: onFinish === null ? null : names.upstreamJobs,
    triggerEvents: events,
    // After the run, as Metaflow's runtime: the on_success hooks if the end step finished.
    exitHooksOnSuccess: ir.exitHooks.flatMap((hook) => hook.onSuccess),
    exitHooksOnError: ir.exitHooks.flatMap((hook) => hook.onError),
    assets: planAssets(ir, names.jobName),
    derivedInputs: analysis.derivedInputs,
  };
}
