// The pipeline: parse the IR, check it, plan the module, print the plan.
import { parseFlowIR, type FlowIR } from "./ir/index.js";
import type { RuntimeBundle } from "./ir/runtime.js";
import { validate } from "./validate/index.js";
import { planModule } from "./plan/module.js";
import { renderModule } from "./emit/render/module.js";

/** Every name generated code must not take (plan/namer.ts), given the runtime's names. */
export { moduleNames } from "./plan/namer.js";

/**
 * IR (untrusted JSON) in: the Python module and its job's Dagster name out; throws
 * CompileError naming every problem. `runtime`: the bundle the build made (ir/runtime.ts
 * parseRuntimeBundle).
 */
export function compileFile(input: unknown, runtime: RuntimeBundle): { source: string; jobName: string } {
  const ir: FlowIR = parseFlowIR(input);
  validate(ir);
  const plan = planModule(ir, runtime);
  return { source: renderModule(plan), jobName: plan.job.name };
}

/** The module alone (compileFile's source). */
export function compile(input: unknown, runtime: RuntimeBundle): string {
  return compileFile(input, runtime).source;
}
