import type { FlowIR } from "../ir/index.js";
import type { Problem } from "./errors.js";

// Dagster's rule for job, op and other definition names.
export const DAGSTER_NAME = /^[A-Za-z0-9_]+$/;

export function checkNames(ir: FlowIR): Problem[] {
  const problems: Problem[] = [];
  if (!DAGSTER_NAME.test(ir.deploy.jobName)) {
    problems.push({
      message: `the Dagster job name '${ir.deploy.jobName}' may only contain letters, digits and underscores; choose one with --name`,
    });
  }
  return problems;
}
