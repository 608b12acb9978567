// Golden tests: every IR fixture in test/golden (written by scripts/update_ir_fixtures.py
// from examples/*.py) compiles to exactly the committed test/golden/<stem>.py, and every
// golden is valid Python that ruff finds clean and formatted. Goldens are compiled
// against a stub of the runtime (test/support/runtime.ts), so they show what the compiler
// decides: which runtime parts a job embeds, and the code after them. The real runtime
// is checked below: embedded byte for byte, and the full files pass ruff.
//
//   UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts   # rewrite the expected files
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { compile } from "../src/compile.js";
import { RUNTIME_END } from "../src/emit/render/module.js";
import { planModule } from "../src/plan/module.js";
import { parseFlowIR } from "../src/ir/index.js";
import { REPO_ROOT, runProcess, runPythonJson } from "./support/python.js";
import { realBundle, stubBundle } from "./support/runtime.js";

const GOLDEN_DIR = join(REPO_ROOT, "test", "golden");
const RUNTIME = stubBundle();
const UPDATE = process.env["UPDATE_GOLDEN"] === "1";
const HINT = "run UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts and review the diff";

const stems = readdirSync(GOLDEN_DIR)
  .filter((f) => f.endsWith(".ir.json"))
  .map((f) => f.slice(0, -".ir.json".length))
  .sort();

function irOf(stem: string): unknown {
  const parsed: unknown = JSON.parse(readFileSync(join(GOLDEN_DIR, `${stem}.ir.json`), "utf-8"));
  return parsed;
}

function goldenPath(stem: string): string {
  return join(GOLDEN_DIR, `${stem}.py`);
}

/** Where two texts first differ, as a short human-readable excerpt. */
function firstDifference(expected: string, actual: string): string {
  const want = expected.split("\n");
  const got = actual.split("\n");
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    if (want[i] !== got[i]) {
      return [
        `first difference at line ${i + 1}:`,
        `  expected: ${JSON.stringify(want[i] ?? "<end of file>")}`,
        `  actual:   ${JSON.stringify(got[i] ?? "<end of file>")}`,
      ].join("\n");
    }
  }
  return "the texts differ only in line endings";
}

/** `RUFF`, else the repo's `.venv/bin/ruff`; null when neither exists. */
function ruffExecutable(): string | null {
  const fromEnv = process.env["RUFF"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const venv = join(REPO_ROOT, ".venv", "bin", "ruff");
  return existsSync(venv) ? venv : null;
}

describe("golden files", () => {
  it("has fixtures, and no golden without its fixture", () => {
    expect(stems.length).toBeGreaterThan(0);
    const orphans = readdirSync(GOLDEN_DIR)
      .filter((f) => f.endsWith(".py"))
      .filter((f) => !stems.includes(f.slice(0, -".py".length)));
    expect(orphans, "goldens whose .ir.json is gone: delete them").toEqual([]);
  });

  // Compile everything first (and rewrite in update mode), so the checks below and the
  // Python batch see the final files whatever order or filter the tests run with.
  const compiled = new Map<string, string>();
  beforeAll(() => {
    for (const stem of stems) {
      const source = compile(irOf(stem), RUNTIME);
      compiled.set(stem, source);
      if (UPDATE) {
        const path = goldenPath(stem);
        if (!existsSync(path) || readFileSync(path, "utf-8") !== source) {
          writeFileSync(path, source, "utf-8");
        }
      }
    }
  });

  it.each(stems)("%s compiles to the committed golden", (stem) => {
    const actual = compiled.get(stem);
    expect(actual, `${stem} did not compile`).toBeDefined();
    const path = goldenPath(stem);
    if (!existsSync(path)) {
      expect.fail(`${path} is missing; ${HINT}`);
    }
    const expected = readFileSync(path, "utf-8");
    if (actual !== expected) {
      expect.fail(
        `${stem}.py differs from what the compiler produces now; ${HINT}\n` +
          firstDifference(expected, actual ?? ""),
      );
    }
  });

  it.each(stems)("%s compiles deterministically", (stem) => {
    const first = compile(irOf(stem), RUNTIME);
    const second = compile(irOf(stem), RUNTIME);
    expect(second === first).toBe(true);
    expect(first).toBe(compiled.get(stem));
  });

  it("goldens are valid Python, ruff-clean and ruff-formatted", () => {
    // The stub runtime defines nothing: the names it would (F821) are checked with the
    // real runtime below.
    expectCleanPython(stems.map(goldenPath), ["--extend-ignore", "F821"]);
  });
});

describe("the real runtime in generated files", () => {
  const runtime = realBundle();
  const dir = mkdtempSync(join(tmpdir(), "golden-real-"));
  const files = new Map<string, string>();
  beforeAll(() => {
    for (const stem of stems) {
      const source = compile(irOf(stem), runtime);
      files.set(stem, source);
      writeFileSync(join(dir, `${stem}.py`), source, "utf-8");
    }
    return () => rmSync(dir, { recursive: true, force: true });
  });

  it.each(stems)("%s embeds its runtime parts byte for byte, in the bundle's order", (stem) => {
    const source = files.get(stem) ?? "";
    const parts = planModule(parseFlowIR(irOf(stem)), runtime).runtime.parts;
    const start = source.indexOf(parts[0]?.body ?? "<none>");
    const end = source.indexOf(`\n\n\n${RUNTIME_END}\n`);
    expect(start).toBeGreaterThan(0);
    expect(source.slice(start, end + 1)).toBe(parts.map((p) => p.body).join("\n\n"));
  });

  it("full files are valid Python, ruff-clean and ruff-formatted", () => {
    expectCleanPython(stems.map((stem) => join(dir, `${stem}.py`)));
  });
});

/** Every file compiles as Python, and ruff (defaults, isort's rules too) finds it clean
 * and formatted. */
function expectCleanPython(paths: string[], extra: string[] = []): void {
  const syntax = z.array(z.string()).parse(
    runPythonJson(
      String.raw`
import json, sys
errors = []
for path in json.load(sys.stdin):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        errors.append(f"{path}:{exc.lineno}: {exc.msg}")
json.dump(errors, sys.stdout)
`,
      paths,
    ),
  );
  expect(syntax).toEqual([]);

  const ruff = ruffExecutable();
  if (ruff === null) {
    expect.fail("ruff not found: run `uv sync` (for .venv/bin/ruff) or set RUFF");
  }
  const rules = ["--extend-select", "I,W", ...extra];
  const check = runProcess(ruff, ["check", "--isolated", "--no-cache", ...rules, ...paths]);
  expect(check.status, `ruff check:\n${check.stdout}${check.stderr}`).toBe(0);
  const format = runProcess(ruff, ["format", "--isolated", "--no-cache", "--check", "--diff", ...paths]);
  expect(format.status, `ruff format --check:\n${format.stdout}${format.stderr}`).toBe(0);
}
