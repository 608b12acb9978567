// Pass 5 (with the FLOW data): the start op's Config class, one typed, documented
// launchpad field per Metaflow Parameter. The namer chose the names.
import type { FlowIR, ParameterIR } from "../ir/index.js";
import { Namer } from "./namer.js";
import { ANY, JSON_MODULE } from "./runtime_api.js";
import type { ConfigField, ConfigPlan, FieldDefault, NamePlan } from "./types.js";

const ANNOTATION: Record<ParameterIR["type"], string> = {
  str: "str",
  int: "int",
  float: "float",
  bool: "bool",
  json: ANY,
  file: "str",
};

function fieldDefault(param: ParameterIR): FieldDefault {
  if (param.hasDefault && param.type === "json" && typeof param.default === "string") {
    // A string in a JSON field is JSON text (runtime: parameter_env): a default that
    // is a JSON string is written as its text, so it reads back as itself.
    return { kind: "value", value: param.defaultText ?? JSON.stringify(param.default) };
  }
  if (param.hasDefault) {
    if (param.type === "float" && typeof param.default === "number") return { kind: "float", value: param.default };
    if (param.defaultText !== null) return { kind: "jsonText", text: param.defaultText };
    return { kind: "value", value: param.default };
  }
  // A parameter that is not required may be left out: None.
  return param.required ? { kind: "none" } : { kind: "value", value: null };
}

function field(name: string, param: ParameterIR): ConfigField {
  // A required parameter, or one without a default, must be given in the launchpad.
  const optional = param.hasDefault || !param.required;
  const base = ANNOTATION[param.type];
  return {
    name,
    parameter: param.name,
    annotation: optional && !param.hasDefault && base !== ANY ? `${base} | None` : base,
    default: fieldDefault(param),
    description: param.type === "json" ? jsonHelp(param) : param.help,
  };
}

/** What a JSON field takes, after the parameter's own help: one meaning everywhere. */
function jsonHelp(param: ParameterIR): string {
  const what =
    `JSON: a value (a mapping, a list, a number...) or a string of JSON text, as ` +
    `\`--${param.name}\` takes it ('{"a": 1}'; '"text"' for a string).`;
  return param.help === null ? what : `${param.help}\n\n${what}`;
}

export function planConfigClass(ir: FlowIR, names: NamePlan["config"]): ConfigPlan | null {
  if (names === null) return null;
  const fields = names.fields.map((f, i) => {
    const param = ir.parameters[i];
    if (param === undefined || param.name !== f.parameter) throw new Error(`config field ${f.name} lost its parameter`);
    return field(f.name, param);
  });
  return { className: names.className, docstring: `Parameters of the Metaflow flow ${ir.flow.name}.`, fields };
}

/** The runtime names a Config class uses: `Any` (json fields) and `json` (loaded defaults). */
export function configRuntimeNames(config: ConfigPlan | null): string[] {
  if (config === null) return [];
  const names: string[] = [];
  if (config.fields.some((f) => f.annotation === ANY)) names.push(ANY);
  if (config.fields.some((f) => f.default.kind === "jsonText")) names.push(JSON_MODULE);
  return names;
}

/** The Config class alone, for a flow's parameters and the module names it must avoid. */
export function planConfig(ir: FlowIR, reserved: ReadonlySet<string>): ConfigPlan | null {
  return planConfigClass(ir, new Namer(reserved).config(ir.parameters));
}
