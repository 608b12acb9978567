import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runPythonJson } from "../../test/support/python.js";
import { PY_BUILTINS, PY_KEYWORDS, PY_SOFT_KEYWORDS, pyIdent } from "./ident.js";

const NONE: ReadonlySet<string> = new Set();

/** Inverse of the encoding documented in ident.ts; fails loudly on bad input. */
function decode(id: string): string {
  if (!id.endsWith("_")) return id;
  let out = "";
  let i = 0;
  for (;;) {
    const c = id[i];
    if (c === undefined) throw new Error(`unterminated ${id}`);
    if (c !== "_") {
      out += c;
      i++;
      continue;
    }
    const next = id[i + 1];
    if (next === undefined) return out;
    if (next === "r") {
      expect(id.slice(i)).toMatch(/^_r\d+_$/);
      return out;
    }
    if (next === "_") {
      out += "_";
      i += 2;
      continue;
    }
    const end = id.indexOf("_", i + 1);
    const hex = id.slice(i + 1, end);
    expect(hex).toMatch(/^[0-9a-f]+$/);
    out += String.fromCodePoint(parseInt(hex, 16));
    i = end + 1;
  }
}

describe("pyIdent examples", () => {
  it.each<[string, string]>([
    ["foo", "foo"],
    ["Foo1", "Foo1"],
    ["_private", "_private"],
    ["start_step", "start_step"],
    ["my-step", "my_2d_step_"],
    ["x_", "x___"],
    ["_", "___"],
    ["class", "class_"],
    ["print", "print_"],
    ["match", "match_"],
    ["type", "type_"],
    ["__name__", "____name_____"],
    ["1abc", "_31_abc_"],
    ["a b", "a_20_b_"],
    ["\u00e9t\u00e9", "_e9_t_e9__"],
    ["\ud800", "_d800__"],
    ["\u{1f600}", "_1f600__"],
    ["", "_r0_"],
  ])("%j -> %s", (name, want) => {
    expect(pyIdent(name, NONE)).toBe(want);
  });

  it("avoids reserved names, including reserved encodings", () => {
    expect(pyIdent("dg", new Set(["dg"]))).toBe("dg_");
    expect(pyIdent("dg", new Set(["dg", "dg_"]))).toBe("dg_r0_");
    expect(pyIdent("dg", new Set(["dg", "dg_", "dg_r0_"]))).toBe("dg_r1_");
    expect(pyIdent("op", new Set(["dg"]))).toBe("op");
  });
});

const smallAlphabet = fc.constantFrom("_", "a", "1", "-", "r", "0", "f", "\u00e9", "\ud800");
const nearCollisions = fc.string({ unit: smallAlphabet, maxLength: 8 });
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const predefined = fc.constantFrom(...PY_KEYWORDS, ...PY_SOFT_KEYWORDS, ...PY_BUILTINS);
const anyName = fc.oneof(
  nearCollisions,
  fc.string({ unit: "binary" }),
  fc.string({ unit: codeUnit }),
  fc.string(),
  predefined,
  predefined.map((s) => `${s}_`),
);
const reservedSet = fc
  .array(nearCollisions, { maxLength: 10 })
  .map((xs) => new Set(xs.flatMap((x) => [x, `${x}_`, `${x}_r0_`])));

describe("pyIdent properties", () => {
  it("is decodable, hence injective, for any reserved set", () => {
    fc.assert(
      fc.property(anyName, reservedSet, (name, reserved) => {
        expect(decode(pyIdent(name, reserved))).toBe(name);
      }),
      { numRuns: 3000 },
    );
  });

  it("maps distinct names to distinct identifiers", () => {
    fc.assert(
      fc.property(fc.uniqueArray(anyName, { maxLength: 60 }), reservedSet, (names, reserved) => {
        const out = new Set(names.map((n) => pyIdent(n, reserved)));
        expect(out.size).toBe(names.length);
      }),
      { numRuns: 300 },
    );
  });

  it("never yields a reserved name and keeps safe names", () => {
    const safe = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);
    fc.assert(
      fc.property(fc.oneof(anyName, safe), reservedSet, (name, reserved) => {
        const id = pyIdent(name, reserved);
        expect(id).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
        expect(reserved.has(id)).toBe(false);
        const isSafe =
          /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) &&
          !name.endsWith("_") &&
          ![PY_KEYWORDS, PY_SOFT_KEYWORDS, PY_BUILTINS, reserved].some((s) => s.has(name));
        expect(id === name).toBe(isSafe);
      }),
      { numRuns: 2000 },
    );
  });
});

const CHECK = String.raw`
import builtins, json, keyword, sys
names = json.load(sys.stdin)
bad = [n for n in names
       if not n.isidentifier() or keyword.iskeyword(n)
       or keyword.issoftkeyword(n) or n in dir(builtins)]
json.dump({"bad": bad, "builtins": dir(builtins),
           "kw": keyword.kwlist, "soft": keyword.softkwlist}, sys.stdout)
`;

// Names that exist in some but not all of the supported Python versions.
const VERSION_SPECIFIC = new Set(["type", "PythonFinalizationError", "_IncompleteInputError"]);

const CheckResult = z.object({
  bad: z.array(z.string()),
  builtins: z.array(z.string()),
  kw: z.array(z.string()),
  soft: z.array(z.string()),
});

describe("pyIdent against Python", () => {
  let result: z.infer<typeof CheckResult> = { bad: ["<not run>"], builtins: [], kw: [], soft: [] };
  beforeAll(() => {
    const names = fc.sample(anyName, { seed: 7, numRuns: 300 });
    const all = [...names, ...PY_KEYWORDS, ...PY_SOFT_KEYWORDS, ...PY_BUILTINS];
    const ids = all.map((n) => pyIdent(n, NONE));
    result = CheckResult.parse(runPythonJson(CHECK, ids));
  });

  it("produces identifiers Python accepts and does not predefine", () => {
    expect(result.bad).toEqual([]);
  });

  it("hard-codes the keyword and builtin lists of the running Python", () => {
    expect(new Set(result.kw)).toEqual(PY_KEYWORDS);
    const extra = (mine: ReadonlySet<string>, theirs: readonly string[]) =>
      [...mine].filter((n) => !theirs.includes(n) && !VERSION_SPECIFIC.has(n));
    const missing = (mine: ReadonlySet<string>, theirs: readonly string[]) =>
      theirs.filter((n) => !mine.has(n));
    expect(missing(PY_SOFT_KEYWORDS, result.soft)).toEqual([]);
    expect(extra(PY_SOFT_KEYWORDS, result.soft)).toEqual([]);
    expect(missing(PY_BUILTINS, result.builtins)).toEqual([]);
    expect(extra(PY_BUILTINS, result.builtins)).toEqual([]);
  });
});
