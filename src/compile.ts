import { parseFlowIR, type FlowIR } from "./ir/index.js";
import { validate } from "./validate/index.js";
import { DAGSTER_RESERVED_NAMES } from "./validate/names.js";
import { planJob } from "./plan/job.js";
import { renderModule } from "./emit/render/module.js";
import { splitRuntime, type RuntimeParts } from "./emit/runtime.js";

// Module-level names the generated code defines or imports, and ops' own parameter names.
const GENERATED_NAMES = [
  "FLOW",
  "defs",
  "context",
  "config",
  // Op input names the wiring uses itself (fan-in inputs, the end op's guard).
  "inputs",
  "started",
  "Config",
  "Definitions",
  "DynamicOut",
  "Field",
  "In",
  "Out",
  "RetryPolicy",
  "job",
  "multiprocess_executor",
  "op",
  // Schedules and sensors (emit/render/automation.ts).
  "DefaultScheduleStatus",
  "DefaultSensorStatus",
  "ScheduleDefinition",
  "SensorEvaluationContext",
  "SensorResult",
  "sensor",
];

/**
 * Every name generated code must not take: the runtime's, the module's own, and those
 * Dagster refuses for op inputs (op inputs are named after steps).
 */
export function moduleNames(runtimeNames: Iterable<string>): ReadonlySet<string> {
  return new Set([...runtimeNames, ...GENERATED_NAMES, ...DAGSTER_RESERVED_NAMES]);
}

/** IR (untrusted JSON) in, Python module out; throws CompileError naming every problem. */
/** `runtimeSources`: the runtime modules' sources in PARTS order (see emit/runtime_files). */
export function compile(input: unknown, runtimeSources: readonly string[]): string {
  const ir = checked(input);
  return emit(ir, splitRuntime(runtimeSources));
}

/** As compile, with the runtime already split (the CLI splits it before its input comes). */
export function compileWith(input: unknown, runtime: RuntimeParts): string {
  return emit(checked(input), runtime);
}

function checked(input: unknown): FlowIR {
  const ir: FlowIR = parseFlowIR(input);
  validate(ir);
  return ir;
}

function emit(ir: FlowIR, runtime: RuntimeParts): string {
  const plan = planJob(ir, moduleNames(runtime.names));
  return renderModule(ir, plan, runtime);
}
