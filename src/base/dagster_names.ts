// Dagster's rules for definition names (jobs, ops, inputs, outputs), which both the
// checks (validate/) and the namer (plan/names.ts) apply.
import { createHash } from "node:crypto";
import { PY_KEYWORDS } from "./ident.js";

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
 * The Dagster job named after a Metaflow (project) flow name: `[A-Za-z0-9_]+`.
 * An ASCII class name stays as it is, and the dots @project puts between project,
 * branch and class become `_` (`proj.user.alice.MyFlow` -> `proj_user_alice_MyFlow`).
 * Any other character (a non-ASCII class name such as `Flüsse_Ωmega`) becomes `_` as
 * well, and then `_` and 10 hex digits of the SHA-256 of the whole name are appended,
 * so that `Flüsse_Ωmega` and `Flösse_Ωmega` stay two jobs.
 */
export function dagsterJobName(flowName: string): string {
  let name = flowName.replace(/[^A-Za-z0-9_.]/gu, "_");
  if (name !== flowName) {
    const hash = createHash("sha256").update(flowName, "utf8").digest("hex").slice(0, NAME_HASH_HEX);
    name = `${name}_${hash}`;
  }
  return name.replaceAll(".", "_");
}

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
 * meet; two shortened names meet only if their hashes do, which the namer refuses
 * (it checks every op and output name for collisions after shortening).
 */
export function fitDagsterName(name: string): string {
  if (!DAGSTER_NAME.test(name)) throw new Error(`not a Dagster name: ${JSON.stringify(name)}`);
  if (name.length < MAX_DAGSTER_NAME) return name;
  const hash = createHash("sha256").update(name, "utf8").digest("hex").slice(0, NAME_HASH_HEX);
  return `${name.slice(0, MAX_DAGSTER_NAME - NAME_HASH_HEX - 1)}_${hash}`;
}
