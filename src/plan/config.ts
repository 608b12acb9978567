import type { FlowIR, ParameterIR } from "../ir/index.js";
import { pyIdent } from "../emit/printer/index.js";
import { CompileError } from "../validate/index.js";
import type { ConfigPlan } from "./types.js";

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
const CLASS_BODY_NAMES = ["Field", "Any"];

// A field must never be named like another parameter: Dagster matches config keys to
// field names before aliases, so `a = Parameter("b")` next to `b = Parameter("a")`
// would silently swap their values.
function fieldName(param: ParameterIR, all: readonly ParameterIR[]): string {
  const others = all.filter((p) => p !== param).map((p) => p.name);
  const reserved = new Set([...MODEL_ATTRIBUTES, ...CLASS_BODY_NAMES, ...others]);
  const name = pyIdent(param.attribute, reserved);
  // pydantic treats leading underscores as private and `model_` as its own namespace.
  return name.startsWith("_") || name.startsWith("model_") ? `param${name}` : name;
}

/** The start op's Config class: one typed field per Metaflow Parameter. */
export function planConfig(ir: FlowIR, reserved: ReadonlySet<string>): ConfigPlan | null {
  if (ir.parameters.length === 0) return null;
  const fields = ir.parameters.map((param) => ({ name: fieldName(param, ir.parameters), param }));
  const seen = new Map<string, string>();
  for (const field of fields) {
    const other = seen.get(field.name);
    if (other !== undefined) {
      throw new CompileError([
        {
          message: `parameters '${other}' and '${field.param.name}' map to the same Dagster config field '${field.name}'`,
        },
      ]);
    }
    seen.set(field.name, field.param.name);
  }
  return { className: pyIdent("StartConfig", reserved), fields };
}
