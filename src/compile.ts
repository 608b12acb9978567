import { parseFlowIR, type FlowIR } from "./ir/index.js";
import { validate } from "./validate/index.js";
import { planJob } from "./plan/job.js";
import { renderModule } from "./emit/render/module.js";
import { splitRuntime } from "./emit/runtime.js";

// Module-level names the generated code itself defines, plus names ops use as parameters.
const GENERATED_NAMES = ["FLOW", "defs", "context", "config"];

/** IR (untrusted JSON) in, Python module out; throws CompileError naming every problem. */
export function compile(input: unknown, runtimeSource: string): string {
  const ir: FlowIR = parseFlowIR(input);
  validate(ir);
  const runtime = splitRuntime(runtimeSource);
  const plan = planJob(ir, new Set([...runtime.names, ...GENERATED_NAMES]));
  return renderModule(ir, plan, runtime);
}
