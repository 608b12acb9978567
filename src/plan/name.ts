// Pass 2: name everything the generated module defines, in one fixed order (op
// functions, the job, the Config class, then the job body's helpers step by step, then
// the steps' variables), so that a name's spelling never depends on who asked first.
import { segmentKey, segmentOwner, regroups } from "../base/segment.js";
import type { FlowIR } from "../ir/index.js";
import { shapeOf, shapes } from "./analyze.js";
import { branchName, GUARD_OUTPUT, ITEM_INPUT, jobName, Namer } from "./namer.js";
import type { Analysis, NamePlan } from "./types.js";

/**
 * The results variable's key for one branch output of a switch (see NamePlan.results):
 * `:` cannot occur in a step name (a Python identifier), so switch `a`'s branch `b` and
 * a step `a_b` never share a key, and so never a variable.
 */
export function branchResultsKey(step: string, output: string): string {
  return `${step}:${output}`;
}

export function nameModule(ir: FlowIR, analysis: Analysis, moduleNames: ReadonlySet<string>): NamePlan {
  const namer = new Namer(moduleNames);
  const ops = namer.stepOps(analysis.order);
  const jobAttr = namer.jobAttr(ir.flow.name);
  const config = namer.config(ir.parameters);

  const splitsOps = new Map<string, string>();
  const inputsOps = new Map<string, string>();
  const each = new Map<string, string>();
  const sources = new Map<string, string>();
  const results = new Map<string, string>();
  const branches = new Map<string, [string, string][]>();
  // A name is claimed the first time its key comes up; later askers share it.
  const once = (into: Map<string, string>, key: string, make: () => string): void => {
    if (!into.has(key)) into.set(key, make());
  };
  for (const step of shapes(analysis)) {
    const segment = step.segment;
    if (segment !== null) {
      const key = segmentKey(segment);
      once(each, key, () => namer.claim(`each_${segmentOwner(segment)}`));
      // A segment maps over a variable of its own unless it is a top-level foreach's body
      // (which maps over that foreach's own output).
      if (segment.kind === "inputs") {
        once(sources, key, () => namer.claim(`${segment.step}_inputs`));
      } else if (shapeOf(analysis, segment.foreach).stack.length > 0) {
        once(sources, key, () => namer.claim(`${segment.foreach}_splits`));
      }
    }
    if (step.fansOut && step.stack.length > 0) {
      once(splitsOps, step.name, () => namer.claimOp(`op_${step.name}_splits`, step.name));
    }
    if (regroups(segment, step.name)) {
      once(inputsOps, step.name, () => namer.claimOp(`op_${step.name}_inputs`, step.name));
    }
    once(results, step.name, () => namer.claim(`${step.name}_results`));
    if (step.switch) {
      const outs = namer.branches(step.name, step.targets);
      branches.set(step.name, outs);
      for (const [out] of outs) {
        const key = branchResultsKey(step.name, out);
        once(results, key, () => namer.claim(`${step.name}_${out}_results`));
      }
    }
  }
  // Variables last: each avoids every name claimed above.
  const locals = new Map(analysis.order.map((s) => [s, namer.local(s)]));
  const job = jobName(ir.deploy.jobName, ir.deploy.projectFlowName);
  const upstreamJobs = (ir.automation.onFinish?.flows ?? []).map((f) => jobName(null, f.projectFlowName));
  return {
    jobAttr,
    jobName: job,
    upstreamJobs,
    ops,
    splitsOps,
    inputsOps,
    each,
    sources,
    results,
    locals,
    branches,
    branchOutput: branchName,
    config,
    schedule: namer.automation(jobAttr, job, "schedule"),
    onFinish: namer.automation(jobAttr, job, "on_finish"),
    onEvents: namer.automation(jobAttr, job, "on_events"),
    lostRuns: namer.automation(jobAttr, job, "lost_runs"),
    guardOutput: GUARD_OUTPUT,
    itemInput: ITEM_INPUT,
  };
}

/** A name the pass gave (a missing one is the planner's own bug). */
export function nameOf(names: ReadonlyMap<string, string>, key: string): string {
  const found = names.get(key);
  if (found === undefined) throw new Error(`no name for ${key}`);
  return found;
}
