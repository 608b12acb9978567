import { createHash } from "node:crypto";
import type { FlowIR } from "../ir/index.js";
import { PY_BUILTINS, PY_KEYWORDS, PY_SOFT_KEYWORDS } from "../emit/printer/index.js";
import type { Problem } from "./errors.js";

// Dagster's rule for job, op, input, output and other definition names
// (dagster/_core/definitions/utils.py: VALID_NAME_REGEX).
export const DAGSTER_NAME = /^[A-Za-z0-9_]+$/;

/**
 * Names Dagster's `check_valid_name` refuses for jobs, ops, inputs and outputs
 * (dagster/_core/definitions/utils.py: DISALLOWED_NAMES, 1.13): its own reserved words
 * plus every Python keyword. Generated names must avoid them.
 */
export const DAGSTER_RESERVED_NAMES: ReadonlySet<string> = new Set([
  "context",
  "conf",
  "config",
  "meta",
  "arg_dict",
  "dict",
  "input_arg_dict",
  "output_arg_dict",
  "int",
  "str",
  "float",
  "bool",
  "input",
  "output",
  "type",
  ...PY_KEYWORDS,
]);

/**
 * The longest op or output name the compiler emits, in bytes. Dagster itself sets no
 * length limit, but its filesystem IO manager (the default under `dagster dev`) stores
 * each output at `<base>/<run id>/<step key>/<output name>[/<mapping key>]`, and a path
 * component holds at most 255 bytes. The step key of an op inside a foreach body is
 * `<op name>[<mapping key>]`, where the key is a split index or, for nested foreaches,
 * split indexes joined by `_`: 200 bytes for the name leaves 53 bytes for such a key.
 */
export const MAX_DAGSTER_NAME = 200;
const NAME_HASH_HEX = 10;

/**
 * `name` (a Dagster name: ASCII letters, digits and `_`, so characters are bytes) made
 * to fit MAX_DAGSTER_NAME.
 * A name shorter than the limit is kept as it is. Any other becomes exactly
 * MAX_DAGSTER_NAME bytes: its first 189 bytes, `_`, and the first 10 hex digits of the
 * SHA-256 of the whole name. Kept and shortened names differ in length, so they never
 * meet; two shortened names meet only if their hashes do, which the planner refuses
 * (it checks every op and output name for collisions after shortening).
 */
export function fitDagsterName(name: string): string {
  if (!DAGSTER_NAME.test(name)) throw new Error(`not a Dagster name: ${JSON.stringify(name)}`);
  if (name.length < MAX_DAGSTER_NAME) return name;
  const hash = createHash("sha256").update(name, "utf8").digest("hex").slice(0, NAME_HASH_HEX);
  return `${name.slice(0, MAX_DAGSTER_NAME - NAME_HASH_HEX - 1)}_${hash}`;
}

export function checkNames(ir: FlowIR): Problem[] {
  const problems: Problem[] = [];
  const job = ir.deploy.jobName;
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
