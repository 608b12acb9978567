// The planner: the passes in order, each reading only what the earlier ones decided.
//   analyze -> name -> wire -> ops -> flow data (FLOW, Config) -> automation -> job
// Their result, a ModulePlan, holds every decision about the generated file; printing
// it (emit/render/) decides nothing.
import type { FlowIR } from "../ir/index.js";
import type { PyImport, RuntimeBundle } from "../ir/runtime.js";
import { analyze } from "./analyze.js";
import { automationRuntimeNames, planAutomation } from "./automation.js";
import { configRuntimeNames, planConfigClass } from "./config.js";
import { planFlowInfo } from "./flow.js";
import { jobRuntimeNames, planJobDef, withExecutorTags } from "./job.js";
import { nameModule } from "./name.js";
import { moduleNames, PYDANTIC_FIELD, type DagsterImport } from "./namer.js";
import { opRuntimeNames, planOps } from "./ops.js";
import { planRuntime } from "./runtime.js";
import { CHECK_VERSIONS, FLOW_INFO, IMPORTED, STEP_INFO } from "./runtime_api.js";
import type { AutomationPlan, ConfigPlan, JobPlan, ModulePlan, OpPlan } from "./types.js";
import { wire } from "./wire.js";

/**
 * Plan the whole module. Every top-level name of the runtime `bundle` is kept from
 * generated names, embedded or not, so a name never depends on which parts a job needs.
 */
export function planModule(ir: FlowIR, bundle: RuntimeBundle): ModulePlan {
  const analysis = analyze(ir);
  const names = nameModule(ir, analysis, moduleNames(bundle.names));
  const wiring = wire(analysis, names);
  const ops = withExecutorTags(ir, planOps(ir, analysis, names, wiring));
  const flow = planFlowInfo(ir, analysis, names);
  const config = planConfigClass(ir, names.config);
  const automation = planAutomation(ir, names, ops);
  const job = planJobDef(ir, names, wiring);
  const file = ir.flow.file.split("/").pop() ?? ir.flow.file;
  const used = new Set([
    CHECK_VERSIONS,
    FLOW_INFO,
    STEP_INFO,
    ...(flow.fastLaunch === null ? [] : [flow.fastLaunch]),
    ...ops.flatMap(opRuntimeNames),
    ...configRuntimeNames(config),
    ...jobRuntimeNames(job),
    ...automationRuntimeNames(automation),
  ]);
  const runtimeNames = [...used].filter((n) => !IMPORTED.has(n)).sort();
  const imported = [...used].flatMap((n) => IMPORTED.get(n) ?? []);
  return {
    header: {
      flowName: ir.flow.name,
      file,
      generator: ir.generator.name,
      version: ir.generator.version,
      regenerate: ir.deploy.regenerate,
    },
    versionCheck: {
      call: CHECK_VERSIONS,
      compiledWith: [
        ["dagster", ir.compiledWith.dagster],
        ["metaflow", ir.compiledWith.metaflow],
      ],
    },
    imports: [...ownImports(ir, ops, config, automation, job), ...imported],
    flow,
    config,
    ops,
    job,
    automation,
    runtimeNames,
    runtime: planRuntime(bundle, runtimeNames),
  };
}

// The generated code's own imports of Dagster's API, its executor's library and pydantic
// (IMPORTED adds the names it shares with the runtime).
function ownImports(
  ir: FlowIR,
  ops: readonly OpPlan[],
  config: ConfigPlan | null,
  automation: AutomationPlan,
  job: JobPlan,
): PyImport[] {
  const dagster: DagsterImport[] = ["Definitions", "Out", "job", "op"];
  if (ir.deploy.executor.kind === "multiprocess") dagster.push("multiprocess_executor");
  if (ops.some((op) => op.inputs.length > 0)) dagster.push("In");
  if (ops.some((op) => op.derived)) dagster.push("Nothing");
  if (ops.some((op) => op.outputs.some((o) => o.dynamic))) dagster.push("DynamicOut");
  if (ops.some((op) => op.retry !== null)) dagster.push("RetryPolicy");
  if (config !== null) dagster.push("Config");
  if (automation.schedule !== null) dagster.push("DefaultScheduleStatus", "ScheduleDefinition");
  if (automation.sensors.length > 0) {
    dagster.push("DefaultSensorStatus", "SensorEvaluationContext", "SensorResult", "sensor");
  }
  const imports = dagster.map((name): PyImport => ({ module: "dagster", name, alias: null }));
  if (config !== null) imports.push({ module: "pydantic", name: PYDANTIC_FIELD, alias: null });
  // An integration library's executor (dagster_celery, dagster_k8s).
  if (job.executor.kind === "celery" || job.executor.kind === "k8s") {
    imports.push({ module: job.executor.module, name: job.executor.fn, alias: null });
  }
  return imports;
}
