// The start op's Config class: the flow's Parameters as typed, documented launchpad fields.
import type { ConfigPlan, FieldDefault } from "../../plan/types.js";
import { pyCall, pyFloat, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";

function defaultValue(value: Exclude<FieldDefault, { kind: "none" }>): PyValue {
  switch (value.kind) {
    case "float":
      return pyFloat(value.value);
    case "jsonText":
      return pyCall("json.loads", [value.text]);
    case "value":
      return value.value;
  }
}

export function renderConfig(config: ConfigPlan, w: Writer): void {
  w.block(`class ${config.className}(Config):`, () => {
    w.line(`"""${config.docstring}"""`);
    w.blank();
    for (const field of config.fields) {
      const kwargs: [string, PyValue][] = [];
      if (field.default.kind !== "none") kwargs.push(["default", defaultValue(field.default)]);
      if (field.name !== field.parameter) kwargs.push(["alias", field.parameter]);
      if (field.description !== null) kwargs.push(["description", field.description]);
      const prefix = `${field.name}: ${field.annotation} = `;
      const value = kwargs.length > 0 ? pyCall("Field", [], kwargs) : pyRaw("Field()");
      w.line(prefix + pyLiteral(value, { indent: w.currentIndent, prefixWidth: prefix.length }));
    }
  });
}
