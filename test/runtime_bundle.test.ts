// The runtime bundle (ir/runtime.ts) and which of its parts a module embeds
// (plan/runtime.ts): only those defining a name the generated code uses, and what they
// require, in the bundle's order.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import { parseRuntimeBundle, type RuntimeBundle, type RuntimePart } from "../src/ir/runtime.js";
import { planModule } from "../src/plan/module.js";
import { planRuntime } from "../src/plan/runtime.js";
import { linearIR } from "./support/ir.js";
import { REPO_ROOT, runProcess, runPython } from "./support/python.js";
import { realBundle } from "./support/runtime.js";

function part(name: string, defines: string[], requires: string[] = []): RuntimePart {
  return { name, imports: [{ module: name, name: null, alias: null }], body: `# ${name}\n`, defines, requires };
}

const SMALL: RuntimeBundle = {
  parts: [part("a", ["A"]), part("b", ["B"], ["a"]), part("c", ["C"], ["b"]), part("d", ["D"])],
  names: ["A", "B", "C", "D", "a", "b", "c", "d"],
};

describe("parseRuntimeBundle", () => {
  it("accepts the bundle the build makes", () => {
    expect(parseRuntimeBundle(JSON.parse(JSON.stringify(realBundle())))).toEqual(realBundle());
  });

  it("refuses a part requiring a part the bundle lacks", () => {
    const bad = { ...SMALL, parts: [part("a", ["A"], ["zz"])] };
    expect(() => parseRuntimeBundle(bad)).toThrow(/part a requires unknown part zz/);
  });

  it("refuses two parts defining one name", () => {
    const bad = { ...SMALL, parts: [part("a", ["X"]), part("b", ["X"])] };
    expect(() => parseRuntimeBundle(bad)).toThrow(/parts a and b both define X/);
  });

  it("refuses a malformed bundle", () => {
    expect(() => parseRuntimeBundle({ parts: [] , names: [] })).toThrow();
    expect(() => parseRuntimeBundle({ ...SMALL, extra: 1 })).toThrow();
    const badImport = { ...SMALL, parts: [{ ...part("a", []), imports: [{ module: "os; x", name: null, alias: null }] }] };
    expect(() => parseRuntimeBundle(badImport)).toThrow();
  });
});

describe("planRuntime", () => {
  it("takes the parts defining the used names and, transitively, what they require", () => {
    expect(planRuntime(SMALL, ["C"]).parts.map((p) => p.name)).toEqual(["a", "b", "c"]);
    expect(planRuntime(SMALL, ["D", "A"]).parts.map((p) => p.name)).toEqual(["a", "d"]);
    expect(planRuntime(SMALL, []).parts).toEqual([]);
    const cycle = { ...SMALL, parts: [part("a", ["A"], ["c"]), part("b", ["B"]), part("c", ["C"], ["a"])] };
    expect(planRuntime(cycle, ["C"]).parts.map((p) => p.name)).toEqual(["a", "c"]);
  });

  it("brings the chosen parts' imports, each once", () => {
    const twice = { ...SMALL, parts: [part("a", ["A"]), { ...part("b", ["B"]), imports: part("a", []).imports }] };
    expect(planRuntime(twice, ["A", "B"]).imports).toEqual([{ module: "a", name: null, alias: null }]);
  });

  it("refuses a name no part defines (a compiler bug, not a user's)", () => {
    expect(() => planRuntime(SMALL, ["Nope"])).toThrow(/no runtime part defines Nope/);
  });
});

describe("the parts a job embeds", () => {
  const parts = (ir: ReturnType<typeof linearIR>): string[] =>
    planModule(ir, realBundle()).runtime.parts.map((p) => p.name);
  const all = realBundle().parts.map((p) => p.name);

  it("leave out exit hooks and sensors when the flow has none", () => {
    const plain = parts(linearIR(["a"]));
    expect(plain).not.toContain("exit_hooks");
    expect(plain).not.toContain("automation");
    expect(plain.length).toBeLessThan(all.length);
  });

  it("include exit hooks and sensors when the flow has them", () => {
    const ir = linearIR(["a"], {
      exitHooks: [{ onSuccess: ["done"], onError: [], options: {} }],
      automation: { events: { events: [{ name: "go", parameters: {} }], options: {} } },
    });
    expect(parts(ir)).toContain("exit_hooks");
    expect(parts(ir)).toContain("automation");
  });

  it("leave out the thread executor and fast launch under the multiprocess executor without it", () => {
    const ir = linearIR(["a"], { deploy: { executor: { kind: "multiprocess", maxWorkers: 2, fastLaunch: false } } });
    const chosen = parts(ir);
    for (const name of ["executor", "warm", "launcher", "interpreter"]) expect(chosen).not.toContain(name);
  });

  // `requires` must be honest: a file with only the parts chosen must load, and ruff
  // (F821: a name no embedded part defines; F401: an import no part uses) finds it clean.
  it.each([
    ["threads, fast launch", linearIR(["a"])],
    ["multiprocess, fast launch", linearIR(["a"], { deploy: { executor: { kind: "multiprocess", maxWorkers: 2, fastLaunch: true } } })],
    ["multiprocess, no fast launch", linearIR(["a"], { deploy: { executor: { kind: "multiprocess", maxWorkers: 2, fastLaunch: false } } })],
  ])("with only its parts, a %s file loads and is ruff-clean", (_label, ir) => {
    const dir = mkdtempSync(join(tmpdir(), "runtime-parts-"));
    try {
      const path = join(dir, "defs.py");
      writeFileSync(path, compile(ir, realBundle()), "utf-8");
      const ruff = join(REPO_ROOT, ".venv", "bin", "ruff");
      const check = runProcess(ruff, ["check", "--isolated", "--no-cache", "--select", "F", path]);
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const loaded = runPython("import runpy, sys; ns = runpy.run_path(sys.argv[1]); print(type(ns['defs']).__name__)", "", [path]);
      expect(loaded.trim()).toBe("Definitions");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
