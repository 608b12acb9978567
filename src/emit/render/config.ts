import type { FlowIR, ParameterIR } from "../../ir/index.js";
import type { ConfigPlan } from "../../plan/types.js";
import { pyCall, pyFloat, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";

const ANNOTATION: Record<ParameterIR["type"], string> = {
  str: "str",
  int: "int",
  float: "float",
  bool: "bool",
  json: "Any",
  file: "str",
};

function defaultValue(param: ParameterIR): PyValue {
  if (param.type === "float" && typeof param.default === "number") return pyFloat(param.default);
  // Python's own JSON text, loaded by the generated file: it keeps 1.0 a float.
  if (param.defaultText !== null) return pyCall("json.loads", [param.defaultText]);
  return param.default;
}

/** One Config class: the flow's Parameters as typed, documented launchpad fields. */
export function renderConfig(ir: FlowIR, config: ConfigPlan, w: Writer): void {
  w.block(`class ${config.className}(Config):`, () => {
    w.line(`"""Parameters of the Metaflow flow ${ir.flow.name}."""`);
    w.blank();
    for (const { name, param } of config.fields) {
      const kwargs: [string, PyValue][] = [];
      // A required parameter, or one without a default, must be given in the launchpad.
      const optional = param.hasDefault || !param.required;
      if (param.hasDefault) kwargs.push(["default", defaultValue(param)]);
      else if (!param.required) kwargs.push(["default", null]);
      if (name !== param.name) kwargs.push(["alias", param.name]);
      if (param.help !== null) kwargs.push(["description", param.help]);
      const base = ANNOTATION[param.type];
      const annotation = optional && !param.hasDefault && base !== "Any" ? `${base} | None` : base;
      const prefix = `${name}: ${annotation} = `;
      const field = kwargs.length > 0 ? pyCall("Field", [], kwargs) : pyRaw("Field()");
      w.line(prefix + pyLiteral(field, { indent: w.currentIndent, prefixWidth: prefix.length }));
    }
  });
}
