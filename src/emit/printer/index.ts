export {
  PyCall,
  PyFloat,
  PyRaw,
  PyTuple,
  pyCall,
  pyFloat,
  pyFloatText,
  pyLiteral,
  pyRaw,
  pyString,
  pyTuple,
} from "./literal.js";
export type { PyLiteralOptions, PyValue } from "./literal.js";
export { PY_BUILTINS, PY_KEYWORDS, PY_SOFT_KEYWORDS, pyIdent } from "./ident.js";
export { Writer } from "./writer.js";
