/** One reason a flow cannot be compiled; step and decorator are named when known. */
export interface Problem {
  message: string;
  step?: string;
  decorator?: string;
}

/** Thrown with every problem found, so users fix them all in one round. */
export class CompileError extends Error {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[]) {
    super(problems.map(describeProblem).join("\n"));
    this.name = "CompileError";
    this.problems = problems;
  }
}

export function describeProblem(problem: Problem): string {
  const where: string[] = [];
  if (problem.step !== undefined) where.push(`step '${problem.step}'`);
  if (problem.decorator !== undefined) where.push(`@${problem.decorator}`);
  return where.length > 0 ? `${where.join(", ")}: ${problem.message}` : problem.message;
}
