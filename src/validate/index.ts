import type { FlowIR } from "../ir/index.js";
import { CompileError, type Problem } from "../base/problems.js";
import { checkDecorators } from "./decorators.js";
import { checkDecoratorPolicy } from "./decorators_policy.js";
import { checkExecutorOptions } from "./executor.js";
import { checkGraph } from "./graph.js";
import { checkNames } from "./names.js";

// The CLI and callers catch CompileError here, beside the checks that throw it.
export { CompileError, describeProblem, type Problem } from "../base/problems.js";

/** Every compile-time check; throws one CompileError listing all problems found. */
export function validate(ir: FlowIR): void {
  const problems: Problem[] = [...checkGraph(ir), ...checkDecorators(ir), ...checkNames(ir)];
  problems.push(...checkDecoratorPolicy(ir), ...checkExecutorOptions(ir));
  if (problems.length > 0) throw new CompileError(problems);
}
