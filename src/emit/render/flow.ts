// `FLOW = FlowInfo(...)`: the plan's flow data as keyword arguments; a fact at its
// default value is left out (the runtime's dataclasses default it alike).
import type { FlowInfoPlan, StepFacts } from "../../plan/types.js";
import { pyCall, pyLiteral, pyRaw, pyTuple, type PyValue, type Writer } from "../printer/index.js";

function stepInfo(f: StepFacts): PyValue {
  const kwargs: [string, PyValue][] = [];
  if (f.split) kwargs.push(["split", true]);
  if (f.foreachJoin) kwargs.push(["foreach_join", true]);
  if (f.branches.length > 0) {
    kwargs.push(["branches", Object.fromEntries(f.branches.map(([name, target]) => [target, name]))]);
  }
  if (f.loop) kwargs.push(["loop", true]);
  if (f.mappedSwitch) kwargs.push(["mapped", true]);
  if (f.parallel) kwargs.push(["parallel", true]);
  if (f.parallelJoin) kwargs.push(["parallel_join", true]);
  if (f.userRetries > 0) kwargs.push(["user_retries", f.userRetries]);
  if (f.errorRetries > 0) kwargs.push(["error_retries", f.errorRetries]);
  if (f.withSpecs.length > 0) kwargs.push(["with_specs", pyTuple(f.withSpecs)]);
  if (f.env.length > 0) kwargs.push(["env", Object.fromEntries(f.env)]);
  if (f.timeout !== null) kwargs.push(["timeout", f.timeout]);
  if (f.cards) kwargs.push(["cards", true]);
  if (f.inputs.length > 0) kwargs.push(["inputs", pyTuple(f.inputs)]);
  if (f.within !== null) kwargs.push(["within", f.within]);
  return pyCall("StepInfo", [f.name], kwargs);
}

function optional(flow: FlowInfoPlan): [string, PyValue][] {
  const kwargs: [string, PyValue][] = [];
  if (flow.fastLaunch !== null) kwargs.push(["fast_launch", pyRaw(flow.fastLaunch)]);
  if (flow.remoteOps) kwargs.push(["remote_ops", true]);
  if (flow.lostRunAfter !== null) kwargs.push(["lost_run_after", flow.lostRunAfter]);
  if (flow.workflowTimeout !== null) kwargs.push(["workflow_timeout", flow.workflowTimeout]);
  if (flow.maxNumSplits !== null) kwargs.push(["max_num_splits", flow.maxNumSplits]);
  if (flow.maxLogBytes !== null) kwargs.push(["max_log_bytes", flow.maxLogBytes]);
  if (flow.configs.length > 0) {
    kwargs.push(["configs", Object.fromEntries(flow.configs.map(([name, json, plain]) => [name, pyTuple([json, plain])]))]);
  }
  if (flow.triggerOnFinish !== null) kwargs.push(["trigger_on_finish", pyTuple(flow.triggerOnFinish)]);
  if (flow.triggerEvents !== null) {
    kwargs.push([
      "trigger_events",
      Object.fromEntries(flow.triggerEvents.map((e) => [e.name, Object.fromEntries(e.parameters)])),
    ]);
  }
  if (flow.exitHooksOnSuccess.length > 0) kwargs.push(["exit_hooks_on_success", pyTuple(flow.exitHooksOnSuccess)]);
  if (flow.exitHooksOnError.length > 0) kwargs.push(["exit_hooks_on_error", pyTuple(flow.exitHooksOnError)]);
  if (flow.assets !== null) {
    const a = flow.assets;
    const assets: [string, PyValue][] = [
      ["key", pyTuple(a.key)],
      ["artifacts", pyTuple(a.artifacts)],
      ["group", a.group],
    ];
    if (a.upstream.length > 0) assets.push(["upstream", pyTuple(a.upstream.map((k) => pyTuple(k)))]);
    kwargs.push(["assets", pyCall("FlowAssets", [], assets)]);
  }
  if (flow.derivedInputs) kwargs.push(["derived_inputs", true]);
  return kwargs;
}

export function renderFlowInfo(flow: FlowInfoPlan, w: Writer): void {
  const kwargs: [string, PyValue][] = [
    ["name", flow.name],
    ["file", flow.file],
    ["anchor", pyRaw("__file__")],
    ["start_step", flow.startStep],
    ["end_step", flow.endStep],
    ["steps", Object.fromEntries(flow.steps.map((f) => [f.name, stepInfo(f)]))],
    ["top_level_args", pyTuple(flow.topLevelArgs)],
    ["datastore", flow.datastore],
    ["datastore_root", flow.datastoreRoot],
    ["metadata", flow.metadata],
    ["tags", pyTuple(flow.tags)],
    ["namespace", flow.namespace],
    ["owner", flow.owner],
    ["parameters", Object.fromEntries(flow.parameters)],
    ...optional(flow),
  ];
  w.line("FLOW = " + pyLiteral(pyCall("FlowInfo", [], kwargs), { indent: w.currentIndent, prefixWidth: 7 }));
}
