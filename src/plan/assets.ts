// Pass 5 (with the FLOW data): the flow in Dagster's asset graph. One asset stands for
// the flow (each successful run materializes it), one for each artifact of its end step;
// @trigger_on_finish's upstream flows are upstream of the flow's asset, so Lineage shows
// flows the way Metaflow chains them. Keys follow Metaflow's names: [project, branch,]
// flow[, artifact].
import type { FlowIR, StepIR } from "../ir/index.js";
import type { AssetsPlan } from "./types.js";

export function planAssets(ir: FlowIR, jobName: string): AssetsPlan | null {
  const assets = ir.deploy.assets;
  if (assets === null) return null;
  const project = ir.deploy.project;
  const flowKey = project === null ? [ir.flow.name] : [project.name, project.branch, ir.flow.name];
  const upstream = (ir.automation.onFinish?.flows ?? []).map((f) =>
    f.project === null || f.branch === null ? [f.flow] : [f.project, f.branch, f.flow],
  );
  return {
    key: flowKey,
    artifacts: assets.artifacts ?? reachingEnd(ir),
    upstream,
    // Dagster group names are identifiers: the job's name is one.
    group: jobName,
  };
}

/**
 * The artifacts a run's end task can hold, from what each step's source assigns: a step
 * holds what its predecessors held (any of them: after a switch only one ran) and what it
 * assigns; a join holds only what it assigns, plus what `merge_artifacts` keeps of its
 * inputs' artifacts (its include and exclude lists). Loops make this a fixed point. An over-estimate where a merge meets
 * differing values (Metaflow then fails the join) or a branch was not taken: the runtime
 * materializes only the artifacts the end task holds.
 */
export function reachingEnd(ir: FlowIR): string[] {
  const byName = new Map(ir.steps.map((s) => [s.name, s]));
  const held = new Map<string, Set<string>>(ir.steps.map((s) => [s.name, new Set<string>()]));
  // What a step keeps of what its inputs held.
  const keeps = (step: StepIR, name: string): boolean => {
    if (step.type !== "join") return true;
    const merges = step.merges;
    if (merges === null) return false;
    return (merges.include === null || merges.include.includes(name)) && !merges.exclude.includes(name);
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const step of ir.steps) {
      const own = held.get(step.name) ?? new Set<string>();
      const before = own.size;
      for (const name of step.assigns) own.add(name);
      for (const parent of step.inFuncs) {
        if (!byName.has(parent)) continue;
        for (const name of held.get(parent) ?? []) if (keeps(step, name)) own.add(name);
      }
      if (own.size !== before) changed = true;
    }
  }
  return [...(held.get(ir.flow.endStep) ?? [])].sort();
}
