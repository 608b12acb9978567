// The one owner of generated names: every Python and Dagster name the generated module
// defines (op functions, the job, the Config class and its fields, the job body's
// helpers and variables, switch outputs, schedules and sensors) comes from here, and so
// does every list of names they must avoid. The name pass (plan/name.ts) asks in a
// fixed order: a name claimed first keeps its wanted spelling.
import { DAGSTER_RESERVED_NAMES, dagsterJobName, fitDagsterName } from "../base/dagster_names.js";
import { pyIdent } from "../base/ident.js";
import { CompileError } from "../base/problems.js";

/** The start op's output that keeps a guarded end op from being skipped (runtime: GUARD_OUTPUT). */
export const GUARD_OUTPUT = "started";

/** The op input holding a list of paths: a fan-in, or a regrouped segment's item. */
export const ITEM_INPUT = "inputs";

/**
 * What the generated code imports from Dagster; plan/module.ts picks the ones a module
 * needs (its list is typed by this one, so nothing is imported that is not reserved).
 */
export const DAGSTER_IMPORTS = [
  "Config",
  "Definitions",
  "DynamicOut",
  "In",
  "Nothing",
  "Out",
  "RetryPolicy",
  "job",
  "multiprocess_executor",
  "op",
  // Schedules and sensors (plan/automation.ts).
  "DefaultScheduleStatus",
  "DefaultSensorStatus",
  "ScheduleDefinition",
  "SensorEvaluationContext",
  "SensorResult",
  "sensor",
] as const;
export type DagsterImport = (typeof DAGSTER_IMPORTS)[number];

/**
 * The executors generated code imports from Dagster's integration libraries, by
 * `--executor` kind (plan/job.ts), used as they are: run config configures them.
 */
export const EXECUTOR_IMPORTS = {
  celery: { module: "dagster_celery", name: "celery_executor" },
  k8s: { module: "dagster_k8s", name: "k8s_job_executor" },
} as const;

/** What the generated Config class imports from pydantic. */
export const PYDANTIC_FIELD = "Field";

// Module-level names the generated code defines or imports, and ops' own parameter names.
const GENERATED_NAMES = [
  "FLOW",
  "defs",
  "context",
  "config",
  // Op input names the wiring uses itself (fan-in inputs, the end op's guard).
  ITEM_INPUT,
  GUARD_OUTPUT,
  ...DAGSTER_IMPORTS,
  ...Object.values(EXECUTOR_IMPORTS).map((i) => i.name),
  PYDANTIC_FIELD,
];

/**
 * Every name generated code must not take: the runtime's (its top-level names, passed
 * in), the module's own, and those Dagster refuses for op inputs (op inputs are named
 * after steps).
 */
export function moduleNames(runtimeNames: Iterable<string>): ReadonlySet<string> {
  return new Set([...runtimeNames, ...GENERATED_NAMES, ...DAGSTER_RESERVED_NAMES]);
}

// Dagster's default output name, and namedtuple attributes of an op's outputs.
// The guard output shares the start op's outputs with its branches.
const BRANCH_RESERVED: ReadonlySet<string> = new Set([
  "result",
  "count",
  "index",
  GUARD_OUTPUT,
  ...DAGSTER_RESERVED_NAMES,
]);

/**
 * The output of a switch op that leads to `target` (a Dagster output name). Output names
 * are path components under Dagster's filesystem IO manager, so long ones are shortened
 * (base/dagster_names.ts); the namer refuses two outputs of one op that shorten alike.
 */
export function branchName(target: string): string {
  return fitDagsterName(pyIdent(target, BRANCH_RESERVED));
}

// Names a pydantic/Dagster Config field must not take: they shadow model attributes.
const MODEL_ATTRIBUTES = new Set([
  "Config",
  "construct",
  "copy",
  "dict",
  "fields",
  "from_orm",
  "json",
  "parse_file",
  "parse_obj",
  "parse_raw",
  "schema",
  "schema_json",
  "update_forward_refs",
  "validate",
]);

// Names the class body itself uses after the fields start (`Field(...)`, `Any`).
const CLASS_BODY_NAMES = [PYDANTIC_FIELD, "Any"];

/** Two names shortened to one (their hashes agree): refused, never merged. */
function collision(what: string, name: string): CompileError {
  return new CompileError([
    { message: `${what} would both be named '${name}' after shortening to Dagster's length limit; rename one of them` },
  ]);
}

/** A parameter as the namer sees it: its user-facing name and its flow attribute. */
export interface NamedParameter {
  name: string;
  attribute: string;
}

/**
 * Hands out module-level names, each once. `reserved` grows with every claim, so a later
 * claim never takes an earlier one's name.
 */
export class Namer {
  private readonly reserved: Set<string>;

  constructor(moduleNames: ReadonlySet<string>) {
    this.reserved = new Set(moduleNames);
  }

  /**
   * One op per step, `op_<step>`. Op names are path components under Dagster's
   * filesystem IO manager: long ones are shortened, then checked for collisions.
   */
  stepOps(steps: readonly string[]): Map<string, string> {
    const opFn = new Map<string, string>();
    const stepOfOp = new Map<string, string>();
    for (const step of steps) {
      const fn = fitDagsterName(`op_${pyIdent(step, new Set())}`);
      const other = stepOfOp.get(fn);
      if (other !== undefined) throw collision(`the ops of steps '${other}' and '${step}'`, fn);
      stepOfOp.set(fn, step);
      opFn.set(step, fn);
    }
    for (const fn of opFn.values()) this.reserved.add(fn);
    return opFn;
  }

  /** The job's module attribute: the flow class name, which users import; never renamed. */
  jobAttr(flowName: string): string {
    if (this.reserved.has(flowName)) {
      throw new CompileError([
        {
          message: `the flow class name '${flowName}' collides with a name the generated module needs; rename the flow class`,
        },
      ]);
    }
    this.reserved.add(flowName);
    return flowName;
  }

  /**
   * The Config class and its fields. A field is named after the flow attribute, never
   * like another parameter: Dagster matches config keys to field names before aliases,
   * so `a = Parameter("b")` next to `b = Parameter("a")` would silently swap their values.
   */
  config(parameters: readonly NamedParameter[]): { className: string; fields: { name: string; parameter: string }[] } | null {
    if (parameters.length === 0) return null;
    const fields = parameters.map((param) => ({ name: fieldName(param, parameters), parameter: param.name }));
    const seen = new Map<string, string>();
    for (const field of fields) {
      const other = seen.get(field.name);
      if (other !== undefined) {
        throw new CompileError([
          {
            message: `parameters '${other}' and '${field.parameter}' map to the same Dagster config field '${field.name}'`,
          },
        ]);
      }
      seen.set(field.name, field.parameter);
    }
    const className = pyIdent("StartConfig", this.reserved);
    this.reserved.add(className);
    return { className, fields };
  }

  /** A module or job-body name: `wanted`, or its encoding if that is taken. */
  claim(wanted: string): string {
    const name = pyIdent(wanted, this.reserved);
    this.reserved.add(name);
    return name;
  }

  /**
   * A helper op's name, shortened like step ops'; pyIdent keeps the unshortened name
   * free, so a clash after shortening is a hash collision.
   */
  claimOp(wanted: string, step: string): string {
    const name = fitDagsterName(pyIdent(wanted, this.reserved));
    if (this.reserved.has(name)) throw collision(`the helper op of step '${step}' and another generated name`, name);
    this.reserved.add(name);
    return name;
  }

  /**
   * A step's variable in the job body (also its op input name): not claimed, so ask
   * only after every claim. pyIdent is injective, so two steps never share one.
   */
  local(step: string): string {
    return pyIdent(step, this.reserved);
  }

  /** A switch's outputs, one per target; one way out (a loop's exit) is Dagster's `result`. */
  branches(step: string, targets: readonly string[]): [string, string][] {
    if (targets.length === 1) return targets.map((t) => ["result", t]);
    const seen = new Map<string, string>();
    for (const target of targets) {
      const name = branchName(target);
      const other = seen.get(name);
      if (other !== undefined) throw collision(`the outputs of switch '${step}' leading to '${other}' and '${target}'`, name);
      seen.set(name, target);
    }
    return targets.map((t) => [branchName(t), t]);
  }

  /** A schedule's or sensor's module attribute (claimed: no op function or other
   * module name may take it) and Dagster name, after the job's. */
  automation(jobAttr: string, jobName: string, suffix: "schedule" | "on_finish" | "on_events" | "lost_runs"): { attr: string; name: string } {
    return { attr: this.claim(`${jobAttr}_${suffix}`), name: `${jobName}_${suffix}` };
  }
}

/**
 * The Dagster job name: `--name` as given, else after the (project) flow name. The same
 * rule names the upstream jobs of @trigger_on_finish, and `dagster trigger` asks for it
 * (the compiler's `job-name` command) to find a job without its file.
 */
export function jobName(given: string | null, projectFlowName: string): string {
  return given ?? dagsterJobName(projectFlowName);
}

function fieldName(param: NamedParameter, all: readonly NamedParameter[]): string {
  const others = all.filter((p) => p !== param).map((p) => p.name);
  const reserved = new Set([...MODEL_ATTRIBUTES, ...CLASS_BODY_NAMES, ...others]);
  const name = pyIdent(param.attribute, reserved);
  // pydantic treats leading underscores as private and `model_` as its own namespace.
  return name.startsWith("_") || name.startsWith("model_") ? `param${name}` : name;
}
