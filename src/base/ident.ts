// Python identifier rules, the ground floor of naming: the namer (plan/namer.ts), the
// checks (validate/names.ts) and the printer (emit/printer re-exports them) apply them.
/**
 * Mapping from arbitrary names (flow, step, parameter names) to Python
 * identifiers that cannot shadow or clash with anything Python predefines.
 *
 * Scheme:
 *  - A "safe" name passes through unchanged: `[A-Za-z_][A-Za-z0-9_]*`, not
 *    ending in `_`, and not a keyword, soft keyword, builtin or reserved name.
 *  - Any other name is encoded code point by code point (lone surrogates are
 *    code points of their own): ASCII letters and digits stay, `_` becomes
 *    `__`, anything else becomes `_<lowercase hex>_`; a leading digit is
 *    hex-escaped as well. A single `_` terminates the encoding.
 *    Example: `my-step` -> `my_2d_step_`, `x_` -> `x___`, `` -> `_`.
 *  - If that result is itself a keyword, builtin or reserved name (the empty
 *    name gives `_`, a soft keyword), the terminator is replaced with
 *    `_r<k>_` for the smallest k >= 0 that is free.
 *
 * Why injective: encoded bodies are sequences of self-delimiting tokens
 * (`x`, `__`, `_hex_`), so a left-to-right reader recovers the input and
 * then meets either the lone terminating `_` or `_r` (never a token start,
 * as `r` is not a hex digit) followed by k. Encoded outputs end in `_`,
 * safe names do not, so the two ranges are disjoint.
 */

export const PY_KEYWORDS: ReadonlySet<string> = new Set([
  "False", "None", "True", "and", "as", "assert", "async", "await", "break",
  "class", "continue", "def", "del", "elif", "else", "except", "finally",
  "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
  "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
]);

export const PY_SOFT_KEYWORDS: ReadonlySet<string> = new Set(["_", "case", "match", "type"]);

// Union of dir(builtins) over CPython 3.11-3.13 run with the site module,
// which adds copyright/credits/exit/help/license/quit.
export const PY_BUILTINS: ReadonlySet<string> = new Set([
  "ArithmeticError", "AssertionError", "AttributeError", "BaseException",
  "BaseExceptionGroup", "BlockingIOError", "BrokenPipeError", "BufferError",
  "BytesWarning", "ChildProcessError", "ConnectionAbortedError",
  "ConnectionError", "ConnectionRefusedError", "ConnectionResetError",
  "DeprecationWarning", "EOFError", "Ellipsis", "EncodingWarning",
  "EnvironmentError", "Exception", "ExceptionGroup", "False",
  "FileExistsError", "FileNotFoundError", "FloatingPointError",
  "FutureWarning", "GeneratorExit", "IOError", "ImportError", "ImportWarning",
  "IndentationError", "IndexError", "InterruptedError", "IsADirectoryError",
  "KeyError", "KeyboardInterrupt", "LookupError", "MemoryError",
  "ModuleNotFoundError", "NameError", "None", "NotADirectoryError",
  "NotImplemented", "NotImplementedError", "OSError", "OverflowError",
  "PendingDeprecationWarning", "PermissionError", "ProcessLookupError",
  "PythonFinalizationError", "RecursionError", "ReferenceError",
  "ResourceWarning", "RuntimeError", "RuntimeWarning", "StopAsyncIteration",
  "StopIteration", "SyntaxError", "SyntaxWarning", "SystemError",
  "SystemExit", "TabError", "TimeoutError", "True", "TypeError",
  "UnboundLocalError", "UnicodeDecodeError", "UnicodeEncodeError",
  "UnicodeError", "UnicodeTranslateError", "UnicodeWarning", "UserWarning",
  "ValueError", "Warning", "ZeroDivisionError", "_IncompleteInputError",
  "__build_class__", "__debug__", "__doc__", "__import__", "__loader__",
  "__name__", "__package__", "__spec__", "abs", "aiter", "all", "anext",
  "any", "ascii", "bin", "bool", "breakpoint", "bytearray", "bytes",
  "callable", "chr", "classmethod", "compile", "complex", "copyright",
  "credits", "delattr", "dict", "dir", "divmod", "enumerate", "eval", "exec",
  "exit", "filter", "float", "format", "frozenset", "getattr", "globals",
  "hasattr", "hash", "help", "hex", "id", "input", "int", "isinstance",
  "issubclass", "iter", "len", "license", "list", "locals", "map", "max",
  "memoryview", "min", "next", "object", "oct", "open", "ord", "pow", "print",
  "property", "quit", "range", "repr", "reversed", "round", "set", "setattr",
  "slice", "sorted", "staticmethod", "str", "sum", "super", "tuple", "type",
  "vars", "zip",
]);

const ASCII_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isTaken(name: string, reserved: ReadonlySet<string>): boolean {
  return (
    PY_KEYWORDS.has(name) ||
    PY_SOFT_KEYWORDS.has(name) ||
    PY_BUILTINS.has(name) ||
    reserved.has(name)
  );
}

export function pyIdent(name: string, reserved: ReadonlySet<string>): string {
  if (ASCII_IDENT.test(name) && !name.endsWith("_") && !isTaken(name, reserved)) return name;
  const body = encodeBody(name);
  const primary = `${body}_`;
  if (!isTaken(primary, reserved)) return primary;
  for (let k = 0; ; k++) {
    const candidate = `${body}_r${k}_`;
    if (!isTaken(candidate, reserved)) return candidate;
  }
}

function encodeBody(name: string): string {
  let out = "";
  let first = true;
  for (const ch of name) {
    const cp = ch.codePointAt(0) ?? 0;
    const isDigit = cp >= 0x30 && cp <= 0x39;
    const isLetter = (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
    if (isLetter || (isDigit && !first)) out += ch;
    else if (ch === "_") out += "__";
    else out += `_${cp.toString(16)}_`;
    first = false;
  }
  return out;
}
