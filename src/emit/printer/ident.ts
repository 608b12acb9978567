// The identifier rules live in base/ (the namer and the checks apply them too); the
// printer offers them with the rest of its API.
export { PY_BUILTINS, PY_KEYWORDS, PY_SOFT_KEYWORDS, pyIdent } from "../../base/ident.js";
