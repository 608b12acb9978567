import { DAGSTER_NAME, DAGSTER_RESERVED_NAMES, dagsterJobName } from "../base/dagster_names.js";
import { PY_BUILTINS, PY_KEYWORDS, PY_SOFT_KEYWORDS } from "../base/ident.js";
import type { FlowIR } from "../ir/index.js";
import type { Problem } from "../base/problems.js";

/** The job name and the flow class name must be usable as Dagster and Python names. */
export function checkNames(ir: FlowIR): Problem[] {
  const problems: Problem[] = [];
  // A name --name gave (a name made from the flow's is valid by construction, unless
  // Dagster reserves it).
  const job = ir.deploy.jobName ?? dagsterJobName(ir.deploy.projectFlowName);
  if (!DAGSTER_NAME.test(job)) {
    problems.push({
      message: `the Dagster job name '${job}' may only contain letters, digits and underscores; choose one with --name`,
    });
  } else if (DAGSTER_RESERVED_NAMES.has(job)) {
    problems.push({
      message: `the Dagster job name '${job}' is a name Dagster reserves; choose another with --name`,
    });
  }
  // The job object is a module attribute named after the flow class (`from out import
  // MyFlow`); a builtin's name would shadow it for the runtime embedded in the file.
  const flow = ir.flow.name;
  if (PY_BUILTINS.has(flow) || PY_SOFT_KEYWORDS.has(flow) || PY_KEYWORDS.has(flow)) {
    problems.push({
      message: `the flow class name '${flow}' is a Python builtin name, which the generated module cannot define without breaking its own code; rename the flow class`,
    });
  }
  problems.push(...checkParameterNames(ir));
  return problems;
}

/**
 * Metaflow reads a parameter's value from `--<name>` or `METAFLOW_INIT_<NAME>` and
 * stores it under `name.replace("-", "_").lower()`: two parameters that agree on that
 * (e.g. `a-b` and `a_b`) silently read one value. Metaflow itself only refuses names
 * equal up to case; a deployed job must not guess which value was meant.
 */
function checkParameterNames(ir: FlowIR): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  for (const param of ir.parameters) {
    const key = param.name.replace(/-/g, "_").toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) {
      problems.push({
        message: `parameters '${other}' and '${param.name}' are the same parameter to Metaflow (both are passed as METAFLOW_INIT_${key.toUpperCase()}); rename one of them`,
      });
    } else {
      seen.set(key, param.name);
    }
  }
  return problems;
}
