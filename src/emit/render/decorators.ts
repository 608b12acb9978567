// Decorator facts the runtime needs, as keyword arguments of the FLOW literal's
// StepInfo/FlowInfo calls and of the op decorator. Kept apart from the graph renderers.
import type { FlowIR, StepIR } from "../../ir/index.js";
import type { RunPlan } from "../../plan/types.js";
import { opTags } from "../../plan/tags.js";
import { resolveEventMappings } from "../../plan/triggers.js";
import { pyTuple, type PyValue } from "../printer/index.js";

/**
 * StepInfo keywords: the effective @timeout (the op enforces it) and whether the step has
 * a @card (in source or from `--with card`): only then does its op look for cards.
 */
export function stepInfoDecoratorKwargs(step: StepIR): [string, PyValue][] {
  const kwargs: [string, PyValue][] = [];
  if (step.timeoutSeconds !== null) kwargs.push(["timeout", step.timeoutSeconds]);
  if (step.decorators.some((d) => d.name === "card")) kwargs.push(["cards", true]);
  return kwargs;
}

/**
 * FlowInfo keywords: warm task launch, workflow timeout, run limits, Config values,
 * trigger facts, exit hooks.
 */
export function flowInfoDecoratorKwargs(ir: FlowIR, run: RunPlan): [string, PyValue][] {
  const kwargs: [string, PyValue][] = [];
  // Fast launch also lets tasks fork from the op process (runtime/warm.py).
  if (ir.deploy.executor.fastLaunch) kwargs.push(["warm_tasks", true]);
  if (ir.deploy.workflowTimeout !== null) kwargs.push(["workflow_timeout", ir.deploy.workflowTimeout]);
  if (run.maxNumSplits !== null) kwargs.push(["max_num_splits", run.maxNumSplits]);
  if (run.maxLogBytes !== null) kwargs.push(["max_log_bytes", run.maxLogBytes]);
  const configs = Object.entries(ir.deploy.configs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (configs.length > 0) {
    kwargs.push(["configs", Object.fromEntries(configs.map(([name, c]) => [name, pyTuple([c.json, c.plain])]))]);
  }
  const onFinish = ir.automation.onFinish;
  if (onFinish !== null) kwargs.push(["trigger_on_finish", pyTuple(onFinish.flows.map((f) => f.jobName))]);
  if (ir.automation.events !== null) {
    const events = resolveEventMappings(ir).events;
    kwargs.push([
      "trigger_events",
      Object.fromEntries(events.map((e) => [e.name, Object.fromEntries(e.parameters)])),
    ]);
  }
  const hooks = run.exitHooks;
  if (hooks !== null && hooks.onSuccess.length > 0) kwargs.push(["exit_hooks_on_success", pyTuple(hooks.onSuccess)]);
  if (hooks !== null && hooks.onError.length > 0) kwargs.push(["exit_hooks_on_error", pyTuple(hooks.onError)]);
  return kwargs;
}

/** The op decorator's `tags=` keyword (@resources, @timeout), if the step has any. */
export function opTagsKwargs(step: StepIR): [string, PyValue][] {
  const tags = opTags(step);
  return tags === null ? [] : [["tags", tags]];
}
