import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, runProcess, runPythonJson } from "../../../test/support/python.js";
import { PyCall, PyFloat, PyRaw, PyTuple, pyCall, pyFloat, pyLiteral, pyRaw, pyTuple } from "./literal.js";
import type { PyValue } from "./literal.js";
import { Writer } from "./writer.js";

describe("pyLiteral scalars", () => {
  it.each<[string, string]>([
    ['"', `'"'`],
    ["'", `"'"`],
    [`a"b'c`, `"a\\"b'c"`],
    [`""'`, `'""\\''`],
    ["\\", `"\\\\"`],
    ["\0", `"\\x00"`],
    ['"""', `'"""'`],
    ["{}", `"{}"`],
    ["a\nb\r\tc", `"a\\nb\\r\\tc"`],
    ["\u2028", `"\\u2028"`],
    ["\u00e9\u007f", `"\\xe9\\x7f"`],
    ["\u{1f600}", `"\\U0001f600"`],
    ["\ud800", `"\\ud800"`],
    ["\udc00\ud800x", `"\\udc00\\ud800x"`],
    ["", `""`],
  ])("string %j", (input, want) => {
    expect(pyLiteral(input)).toBe(want);
  });

  it.each<[PyValue, string]>([
    [0.1, "0.1"], [1e16, "1e16"], [1e-5, "1e-05"], [1.5e-7, "1.5e-07"], [0.0001, "0.0001"],
    [123456789.123, "123456789.123"], [5e-324, "5e-324"],
    [1.7976931348623157e308, "1.7976931348623157e308"], [2 ** 53, "9007199254740992.0"],
    [1.2345e20, "1.2345e20"], [-2.5, "-2.5"], [pyFloat(-0), "-0.0"], [pyFloat(3), "3.0"],
    [pyFloat(100), "100.0"], [pyFloat(1e15), "1000000000000000.0"], [pyFloat(1e16), "1e16"],
    [NaN, 'float("nan")'], [Infinity, 'float("inf")'], [pyFloat(-Infinity), 'float("-inf")'],
    [-0, "0"], [42, "42"], [-7, "-7"], [Number.MAX_SAFE_INTEGER, "9007199254740991"],
    [null, "None"], [true, "True"], [false, "False"],
  ])("%o", (input, want) => {
    expect(pyLiteral(input)).toBe(want);
  });
});

describe("pyLiteral collections", () => {
  it("prints small collections on one line", () => {
    expect(pyLiteral([])).toBe("[]");
    expect(pyLiteral({})).toBe("{}");
    expect(pyLiteral(pyTuple([]))).toBe("()");
    expect(pyLiteral(pyTuple([1]))).toBe("(1,)");
    expect(pyLiteral(pyTuple([1, "a"]))).toBe('(1, "a")');
    expect(pyLiteral({ b: [1, pyFloat(2)], a: null })).toBe('{"b": [1, 2.0], "a": None}');
  });

  it("fits exactly at the width, counting prefix, indent and suffix", () => {
    expect(pyLiteral([1, 2], { width: 6 })).toBe("[1, 2]");
    expect(pyLiteral([1, 2], { width: 5 })).toBe("[\n    1,\n    2,\n]");
    expect(pyLiteral([1, 2], { width: 10, indent: "  ", prefixWidth: 1, suffixWidth: 1 })).toBe(
      "[1, 2]",
    );
    expect(pyLiteral([1, 2], { width: 10, indent: "  ", prefixWidth: 2, suffixWidth: 1 })).toBe(
      "[\n      1,\n      2,\n  ]",
    );
  });

  it("explodes nested items only where they do not fit", () => {
    expect(pyLiteral([[1, 2], [3, 4]], { width: 11 })).toBe("[\n    [1, 2],\n    [3, 4],\n]");
    expect(pyLiteral([[1, 2]], { width: 7 })).toBe("[\n    [\n        1,\n        2,\n    ],\n]");
    const long = "x".repeat(80);
    expect(pyLiteral({ a: [1, 2, 3], b: long }, { prefixWidth: 4 })).toBe(
      `{\n    "a": [1, 2, 3],\n    "b": "${long}",\n}`,
    );
    expect(pyLiteral({ key: [long] }, { indent: "    " })).toBe(
      `{\n        "key": [\n            "${long}",\n        ],\n    }`,
    );
    expect(pyLiteral(pyTuple([long.repeat(2)]))).toBe(`(\n    "${long.repeat(2)}",\n)`);
  });

  it("prints calls and raw source with the same layout rules", () => {
    expect(pyLiteral(pyRaw("Field()"))).toBe("Field()");
    expect(pyLiteral(pyCall("f", []))).toBe("f()");
    expect(pyLiteral(pyCall("Field", [1], [["alias", "x"], ["d", { a: pyRaw("__file__") }]]))).toBe(
      'Field(1, alias="x", d={"a": __file__})',
    );
    const long = "x".repeat(80);
    expect(pyLiteral(pyCall("op", [pyRaw("context")], [["name", long]]), { prefixWidth: 1 })).toBe(
      `op(\n    context,\n    name="${long}",\n)`,
    );
  });
});

// ---- round trips through a real Python -------------------------------------

const DECODE = String.raw`
import ast, json, struct, sys

class Floats(ast.NodeTransformer):
    # float("inf") and friends are calls, which literal_eval rejects.
    def visit_Call(self, n):
        a = n.args
        if (isinstance(n.func, ast.Name) and n.func.id == "float" and len(a) == 1
                and not n.keywords and isinstance(a[0], ast.Constant)
                and a[0].value in ("inf", "-inf", "nan")):
            return ast.Constant(float(a[0].value))
        return n

def enc(v):
    if v is None: return None
    if isinstance(v, bool): return ["b", v]
    if isinstance(v, int): return ["i", str(v)]
    if isinstance(v, float): return ["f", "nan" if v != v else struct.pack(">d", v).hex()]
    if isinstance(v, str): return ["s", [ord(c) for c in v]]
    if isinstance(v, list): return ["l", [enc(x) for x in v]]
    if isinstance(v, tuple): return ["t", [enc(x) for x in v]]
    if isinstance(v, dict): return ["d", [[enc(k), enc(x)] for k, x in v.items()]]
    raise TypeError(type(v))

out = []
for src in json.load(sys.stdin):
    out.append(enc(ast.literal_eval(Floats().visit(ast.parse(src, mode="eval")))))
json.dump(out, sys.stdout)
`;

const REPR = String.raw`
import json, struct, sys
bad = []
for bits, printed in json.load(sys.stdin):
    v = struct.unpack(">d", bytes.fromhex(bits))[0]
    special = v != v or v in (float("inf"), float("-inf"))
    # ruff rewrites 1e+16 as 1e16; everything else is repr verbatim.
    want = f'float("{v!r}")' if special else repr(v).replace("e+", "e")
    if printed != want: bad.append([bits, printed, want])
json.dump(bad, sys.stdout)
`;

function rawBits(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return Array.from(new Uint8Array(view.buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

// NaN payloads differ between engines; any NaN counts as the same value.
const floatBits = (x: number): string => (Number.isNaN(x) ? "nan" : rawBits(x));

function isList(v: object): v is readonly PyValue[] {
  return Array.isArray(v);
}

/** The value as the Python side encodes what `literal_eval` returned. */
function encoded(v: PyValue): unknown {
  if (v === null) return null;
  if (typeof v === "boolean") return ["b", v];
  if (typeof v === "number") return Number.isSafeInteger(v) ? ["i", String(v)] : ["f", floatBits(v)];
  if (typeof v === "string") return ["s", Array.from(v, (c) => c.codePointAt(0))];
  if (v instanceof PyFloat) return ["f", floatBits(v.value)];
  if (v instanceof PyTuple) return ["t", v.items.map(encoded)];
  if (v instanceof PyCall || v instanceof PyRaw) throw new Error("not a literal");
  if (isList(v)) return ["l", v.map(encoded)];
  return ["d", Object.entries(v).map(([k, x]) => [encoded(k), encoded(x)])];
}

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const tricky = fc.constantFrom('"', "'", "\\", "\n", "\r", "\t", "\0", "a", " ", "\u2028");
const anyString = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: codeUnit }),
  fc.string({ unit: tricky }),
);
const edgeDoubles = fc.constantFrom(
  5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, 1e16, 9999999999999998, 1e15,
  1e-4, 9.999999999999999e-5, 1e-5, 0.1, 2 ** 53, 2 ** 63, 123456789.123, 1e22, 1e21,
);
const anyDouble = fc.oneof(fc.double(), edgeDoubles, edgeDoubles.map((x) => -x));

const { value: anyValue } = fc.letrec<{ value: PyValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    anyDouble,
    anyDouble.map(pyFloat),
    anyString,
    fc.array(tie("value"), { maxLength: 6 }),
    fc.array(tie("value"), { maxLength: 4 }).map(pyTuple),
    fc.dictionary(anyString, tie("value"), { maxKeys: 5 }),
  ),
}));

const layout = fc.record({
  width: fc.integer({ min: 0, max: 100 }),
  indent: fc.integer({ min: 0, max: 3 }).map((n) => "    ".repeat(n)),
  prefixWidth: fc.integer({ min: 0, max: 20 }),
  suffixWidth: fc.integer({ min: 0, max: 2 }),
});

function firstMismatch(got: unknown, want: readonly unknown[]): number {
  if (!Array.isArray(got)) throw new Error(`expected a list from Python, got ${JSON.stringify(got)}`);
  expect(got.length).toBe(want.length);
  return want.findIndex((w, i) => JSON.stringify(w) !== JSON.stringify(got[i]));
}

describe("pyLiteral against Python", () => {
  it("literal_eval gives back the value, for any value and layout", () => {
    const batch = fc.array(fc.tuple(anyValue, layout), { minLength: 300, maxLength: 300 });
    fc.assert(
      fc.property(batch, (cases) => {
        const sources = cases.map(([v, opts]) => pyLiteral(v, opts));
        for (const src of sources) {
          expect(src).toMatch(/^[\x20-\x7e\n]*$/);
          expect(src).not.toMatch(/ \n/);
        }
        const got = runPythonJson(DECODE, sources);
        const bad = firstMismatch(got, cases.map(([v]) => encoded(v)));
        expect(bad === -1 ? "" : sources[bad]).toBe("");
      }),
      { numRuns: 3 },
    );
  });

  it("floats print as Python's repr", () => {
    const batch = fc.array(anyDouble, { minLength: 300, maxLength: 300 });
    fc.assert(
      fc.property(batch, (xs) => {
        const pairs = xs.map((x) => [rawBits(x), pyLiteral(pyFloat(x))]);
        expect(runPythonJson(REPR, pairs)).toEqual([]);
      }),
      { numRuns: 3 },
    );
  });
});

// ---- ruff stability ---------------------------------------------------------

function findRuff(): string | undefined {
  const fromEnv = process.env["RUFF"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  for (const candidate of ["ruff", join(REPO_ROOT, ".venv", "bin", "ruff")]) {
    try {
      if (runProcess(candidate, ["--version"]).status === 0) return candidate;
    } catch {
      // Not installed there; try the next location.
    }
  }
  return undefined;
}

const ruff = findRuff();

describe("pyLiteral under ruff", () => {
  it("has ruff to check against (run `uv sync` or set RUFF)", () => {
    expect(ruff).toBeDefined();
  });
  const wideString = fc.string({ unit: tricky, minLength: 60, maxLength: 100 });
  const kwarg = fc.tuple(fc.constantFrom("a", "name", "datastore_root"), fc.oneof(wideString, anyValue));
  const call = fc
    .tuple(fc.array(anyValue, { maxLength: 3 }), fc.uniqueArray(kwarg, { selector: ([k]) => k }))
    .map(([args, kwargs]) => pyCall("f", args, kwargs));
  const wide = fc.oneof(
    anyValue,
    call,
    fc.dictionary(fc.string({ maxLength: 30 }), call, { maxKeys: 4 }),
    fc.array(fc.oneof(fc.integer(), wideString, anyValue), { minLength: 5, maxLength: 30 }),
    fc.dictionary(fc.string({ maxLength: 30 }), fc.oneof(wideString, anyValue), { maxKeys: 8 }),
    fc.array(wideString, { maxLength: 1 }).map(pyTuple),
  );
  const isCollection = (v: PyValue) => v !== null && typeof v === "object" && !(v instanceof PyFloat);

  it("leaves generated modules unchanged and lint-clean", () => {
    const values = fc.sample(wide, { seed: 20240611, numRuns: 400 });
    const w = new Writer();
    w.block("def f(*args, **kwargs):", (b) => b.line("return args, kwargs"));
    values.forEach((v, i) => {
      w.blank(2);
      // A scalar that overflows after a long target gets parenthesised by
      // ruff, so only single-letter targets hold scalars.
      const target = isCollection(v) ? `x_${i}` : "X";
      w.line(`${target} = ${pyLiteral(v, { prefixWidth: target.length + 3 })}`);
      w.blank(2);
      w.block(`def g_${i}():`, (b) => {
        b.line(`x = ${pyLiteral(v, { indent: b.currentIndent, prefixWidth: 4 })}`);
        b.line("return f(");
        b.indent((args) => {
          const kw = `k${"w".repeat(i % 20)}=`;
          const lit = pyLiteral(v, { indent: args.currentIndent, prefixWidth: kw.length, suffixWidth: 1 });
          args.line(`${kw}${lit},`);
          args.line("other=x,");
        });
        b.line(")");
      });
    });
    const dir = mkdtempSync(join(tmpdir(), "pyliteral-"));
    try {
      const file = join(dir, "generated.py");
      writeFileSync(file, w.toString());
      const exe = ruff ?? "ruff";
      const fmt = runProcess(exe, ["format", "--isolated", "--line-length", "88", "--check", "--diff", file]);
      expect(fmt.status, (fmt.stdout + fmt.stderr).slice(0, 4000)).toBe(0);
      const lintArgs = ["check", "--isolated", "--target-version", "py310", "--select", "E,F,W,I,UP,B"];
      // Long strings cannot be split without changing the value's shape.
      const lint = runProcess(exe, [...lintArgs, "--ignore", "E501", "--output-format", "concise", file]);
      expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
