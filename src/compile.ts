// The pipeline: parse the IR, check it, plan the module, print the plan.
import { parseFlowIR, type FlowIR } from "./ir/index.js";
import { validate } from "./validate/index.js";
import { planModule } from "./plan/module.js";
import { renderModule } from "./emit/render/module.js";
import { splitRuntime, type RuntimeParts } from "./emit/runtime.js";

/** Every name generated code must not take (plan/namer.ts), given the runtime's names. */
export { moduleNames } from "./plan/namer.js";

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
  return renderModule(planModule(ir, runtime.names), runtime);
}
