// The planner: the passes in order, each reading only what the earlier ones decided.
//   analyze -> name -> wire -> ops -> flow data (FLOW, Config) -> automation -> job
// Their result, a ModulePlan, holds every decision about the generated file; printing
// it (emit/render/) decides nothing.
import type { FlowIR } from "../ir/index.js";
import { analyze } from "./analyze.js";
import { automationRuntimeNames, planAutomation } from "./automation.js";
import { configRuntimeNames, planConfigClass } from "./config.js";
import { planFlowInfo } from "./flow.js";
import { jobRuntimeNames, planJobDef } from "./job.js";
import { nameModule } from "./name.js";
import { moduleNames, PYDANTIC_FIELD, type DagsterImport } from "./namer.js";
import { opRuntimeNames, planOps } from "./ops.js";
import { FLOW_INFO, STEP_INFO } from "./runtime_api.js";
import type { AutomationPlan, ConfigPlan, ModulePlan, OpPlan } from "./types.js";
import { wire } from "./wire.js";

/**
 * Plan the whole module. `runtimeNames`: the embedded runtime's top-level names, which
 * no generated name may take.
 */
export function planModule(ir: FlowIR, runtimeNames: Iterable<string>): ModulePlan {
  const analysis = analyze(ir);
  const names = nameModule(ir, analysis, moduleNames(runtimeNames));
  const wiring = wire(analysis, names);
  const ops = planOps(ir, analysis, names, wiring);
  const flow = planFlowInfo(ir, analysis, names);
  const config = planConfigClass(ir, names.config);
  const automation = planAutomation(ir, names, ops);
  const job = planJobDef(ir, names, wiring);
  const file = ir.flow.file.split("/").pop() ?? ir.flow.file;
  return {
    header: {
      flowName: ir.flow.name,
      file,
      generator: ir.generator.name,
      version: ir.generator.version,
      regenerate: ir.deploy.regenerate,
    },
    imports: ownImports(ir, ops, config, automation),
    flow,
    config,
    ops,
    job,
    automation,
    runtimeNames: [
      ...new Set([
        FLOW_INFO,
        STEP_INFO,
        ...ops.flatMap(opRuntimeNames),
        ...configRuntimeNames(config),
        ...jobRuntimeNames(job),
        ...automationRuntimeNames(automation),
      ]),
    ].sort(),
  };
}

// The generated code's own imports (the runtime brings the rest).
function ownImports(
  ir: FlowIR,
  ops: readonly OpPlan[],
  config: ConfigPlan | null,
  automation: AutomationPlan,
): { module: string; names: string[] }[] {
  const dagster: DagsterImport[] = ["Definitions", "Out", "job", "op"];
  if (ir.deploy.executor.kind === "multiprocess") dagster.push("multiprocess_executor");
  if (ops.some((op) => op.inputs.length > 0)) dagster.push("In");
  if (ops.some((op) => op.outputs.some((o) => o.dynamic))) dagster.push("DynamicOut");
  if (ops.some((op) => op.retry !== null)) dagster.push("RetryPolicy");
  if (config !== null) dagster.push("Config");
  if (automation.schedule !== null) dagster.push("DefaultScheduleStatus", "ScheduleDefinition");
  if (automation.sensors.length > 0) {
    dagster.push("DefaultSensorStatus", "SensorEvaluationContext", "SensorResult", "sensor");
  }
  const imports: { module: string; names: string[] }[] = [{ module: "dagster", names: dagster }];
  if (config !== null) imports.push({ module: "pydantic", names: [PYDANTIC_FIELD] });
  return imports;
}
