/**
 * Python literal printer. The output must (a) evaluate to exactly the given
 * value and (b) already be in the shape `ruff format` would produce, so that
 * generated files pass `ruff format --check` without a formatting pass.
 * `PyCall` and `PyRaw` step outside literals (for decorators, constructor
 * calls and names) but share the same layout rules.
 */

/** Marks a number that must be a Python float even when it is integral. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A Python tuple; plain arrays print as lists. */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A call `fn(arg, ..., name=value, ...)`; `fn` and the names are printed verbatim. */
export class PyCall {
  constructor(
    readonly fn: string,
    readonly args: readonly PyValue[],
    readonly kwargs: readonly (readonly [name: string, value: PyValue])[],
  ) {}
}

/** Single-line Python source printed verbatim, e.g. a name like `__file__`. */
export class PyRaw {
  constructor(readonly text: string) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | string
  | readonly PyValue[]
  | PyFloat
  | PyTuple
  | PyCall
  | PyRaw
  | { readonly [key: string]: PyValue };

export const pyFloat = (value: number): PyFloat => new PyFloat(value);
export const pyTuple = (items: readonly PyValue[]): PyTuple => new PyTuple(items);
export const pyRaw = (text: string): PyRaw => new PyRaw(text);
export const pyCall = (
  fn: string,
  args: readonly PyValue[],
  kwargs: readonly (readonly [name: string, value: PyValue])[] = [],
): PyCall => new PyCall(fn, args, kwargs);

export interface PyLiteralOptions {
  /** Indentation of the line the literal starts on; exploded lines are relative to it. */
  indent?: string;
  /** Maximum line length, as configured for ruff (its default is 88). */
  width?: number;
  /** Columns taken on the first line before the literal, e.g. 4 for `X = `. */
  prefixWidth?: number;
  /** Columns that follow the literal on its last line, e.g. 1 for a trailing `,`. */
  suffixWidth?: number;
}

const INDENT_STEP = "    ";

export function pyLiteral(value: PyValue, opts: PyLiteralOptions = {}): string {
  const layout = new Layout(opts.width ?? 88);
  return layout.render(value, opts.indent ?? "", opts.prefixWidth ?? 0, opts.suffixWidth ?? 0);
}

/**
 * Float text as Python's `repr` would print it, except that a positive
 * exponent has no `+`: ruff normalises `1e+16` to `1e16`, and matching ruff
 * matters more here than matching `repr` byte for byte.
 */
export function pyFloatText(x: number): string {
  if (Number.isNaN(x)) return 'float("nan")';
  if (x === Infinity) return 'float("inf")';
  if (x === -Infinity) return 'float("-inf")';
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  // Without an argument, toExponential yields the shortest round-tripping
  // digits, the same digits CPython's repr picks; only the layout differs.
  const [mantissa = "", expText = "0"] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const head = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const expAbs = String(Math.abs(exp)).padStart(2, "0");
    return `${sign}${head}e${exp < 0 ? "-" : ""}${expAbs}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits.padEnd(exp + 1, "0")}.0`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/**
 * Quote choice follows ruff's rule (verified against ruff 0.14): double
 * quotes unless the text holds strictly more `"` than `'`. Anything that is
 * not printable ASCII is escaped so output files are pure ASCII and
 * invisible or ambiguous characters stay visible in review.
 */
export function pyString(s: string): string {
  let doubles = 0;
  let singles = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) doubles++;
    else if (c === 0x27) singles++;
  }
  const quote = doubles > singles ? "'" : '"';
  let out = quote;
  // for..of walks code points, yielding lone surrogates as single units.
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp >= 0x20 && cp <= 0x7e) out += ch;
    else if (cp < 0x100) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return out + quote;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

type Entry = readonly [keyText: string, value: PyValue];

interface Collection {
  open: string;
  close: string;
  entries: readonly Entry[];
  /** A one-item tuple needs its comma even on one line. */
  singleTuple: boolean;
}

function isAtom(value: PyValue): value is null | boolean | number | string | PyFloat | PyRaw {
  return (
    value === null || typeof value !== "object" || value instanceof PyFloat || value instanceof PyRaw
  );
}

function asCollection(value: PyValue): Collection | undefined {
  if (isAtom(value)) return undefined;
  if (value instanceof PyCall) {
    const entries = [
      ...value.args.map((v): Entry => ["", v]),
      ...value.kwargs.map(([k, v]): Entry => [`${k}=`, v]),
    ];
    return { open: `${value.fn}(`, close: ")", entries, singleTuple: false };
  }
  if (value instanceof PyTuple) {
    const entries = value.items.map((v): Entry => ["", v]);
    return { open: "(", close: ")", entries, singleTuple: entries.length === 1 };
  }
  if (isArray(value)) {
    return { open: "[", close: "]", entries: value.map((v): Entry => ["", v]), singleTuple: false };
  }
  const entries = Object.entries(value).map(([k, v]): Entry => [`${pyString(k)}: `, v]);
  return { open: "{", close: "}", entries, singleTuple: false };
}

// Array.isArray does not narrow readonly arrays out of a union.
function isArray(value: object): value is readonly PyValue[] {
  return Array.isArray(value);
}

function atomText(value: null | boolean | number | string | PyFloat | PyRaw): string {
  if (value instanceof PyFloat) return pyFloatText(value.value);
  if (value instanceof PyRaw) return value.text;
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "string") return pyString(value);
  // String(-0) is "0", matching Python, which has no negative integer zero.
  if (Number.isSafeInteger(value)) return String(value);
  return pyFloatText(value);
}

class Layout {
  // Flat text does not depend on position, so shared sub-values are printed once.
  private readonly flatCache = new Map<object, string>();

  constructor(private readonly width: number) {}

  flat(value: PyValue): string {
    if (isAtom(value)) return atomText(value);
    const cached = this.flatCache.get(value);
    if (cached !== undefined) return cached;
    const c = asCollection(value);
    if (c === undefined) throw new Error("unreachable: non-scalar without collection shape");
    const items = c.entries.map(([key, v]) => key + this.flat(v));
    const text = c.open + items.join(", ") + (c.singleTuple ? "," : "") + c.close;
    this.flatCache.set(value, text);
    return text;
  }

  /**
   * Mirrors ruff's group fitting: a collection stays on one line when the
   * whole line fits; otherwise one item per line with a trailing comma,
   * which ruff treats as "magic" and therefore never re-joins.
   */
  render(value: PyValue, indent: string, prefixWidth: number, suffixWidth: number): string {
    const text = this.flat(value);
    const c = asCollection(value);
    if (c === undefined || c.entries.length === 0) return text;
    if (prefixWidth + indent.length + text.length + suffixWidth <= this.width) return text;
    const inner = indent + INDENT_STEP;
    const lines = c.entries.map(
      ([key, v]) => `${inner}${key}${this.render(v, inner, key.length, 1)},`,
    );
    return `${c.open}\n${lines.join("\n")}\n${indent}${c.close}`;
  }
}
