// The compiler's modules import one way: down the layers, never in a circle. Every
// non-test `src/**/*.ts` file's relative imports (static, `import type`, re-exports and
// dynamic `import()`) are read and resolved; the test fails on any cycle and on any
// import from a lower layer into a higher one.
//
// Layers, lowest first (an import may go to its own layer or a lower one):
//   base      src/base/       problems, identifier and Dagster name rules, cron, segments
//   ir        src/ir/         the IR's schema, parsing, what its fields mean
//   validate  src/validate/   compile-time checks
//   plan      src/plan/       the passes that decide everything (ModulePlan)
//   emit      src/emit/       the printer, the renderers, the runtime embedding
//   top       src/*.ts        compile, cli, warmup
// And the renderers print a plan: they import plan types only (`import type`), never
// the IR, the checks or the passes.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/python.js";

const SRC = join(REPO_ROOT, "src");
const LAYERS = ["base", "ir", "validate", "plan", "emit", "top"] as const;
type Layer = (typeof LAYERS)[number];

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Relative specifiers a file imports, with whether the import is for types only. */
export function importsOf(text: string): { spec: string; typeOnly: boolean }[] {
  const found: { spec: string; typeOnly: boolean }[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?(?:[^;"']*?\s+from\s+)?["']([^"']+)["']/gm;
  for (const m of text.matchAll(statement)) found.push({ spec: m[3] ?? "", typeOnly: m[2] !== undefined });
  for (const m of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.push({ spec: m[1] ?? "", typeOnly: false });
  return found.filter((i) => i.spec.startsWith("."));
}

/** `src/`-relative module path, e.g. `plan/wire.ts`. */
function moduleName(path: string): string {
  return relative(SRC, path).split("\\").join("/");
}

function edges(files: readonly string[]): Edge[] {
  return files.flatMap((file) =>
    importsOf(readFileSync(file, "utf-8")).map(({ spec, typeOnly }) => ({
      from: moduleName(file),
      to: moduleName(resolve(dirname(file), spec.replace(/\.js$/, ".ts"))),
      typeOnly,
    })),
  );
}

export function layerOf(module: string): Layer {
  const top = module.split("/")[0] ?? "";
  if (!module.includes("/")) return "top";
  if ((LAYERS as readonly string[]).includes(top)) return top as Layer;
  throw new Error(`${module} is in no layer: add its directory to LAYERS`);
}

/** Imports from a lower layer into a higher one, as `from -> to`. */
export function upwardImports(all: readonly Edge[]): string[] {
  return all
    .filter((e) => LAYERS.indexOf(layerOf(e.to)) > LAYERS.indexOf(layerOf(e.from)))
    .map((e) => `${e.from} (${layerOf(e.from)}) -> ${e.to} (${layerOf(e.to)})`);
}

/** Every import cycle, each as the modules around it (found by depth-first search). */
export function cycles(all: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of all) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const found: string[][] = [];
  const visit = (module: string): void => {
    state.set(module, "open");
    path.push(module);
    for (const to of next.get(module) ?? []) {
      if (state.get(to) === "open") found.push([...path.slice(path.indexOf(to)), to]);
      else if (state.get(to) === undefined) visit(to);
    }
    path.pop();
    state.set(module, "done");
  };
  for (const module of [...next.keys()].sort()) if (state.get(module) === undefined) visit(module);
  return found;
}

// What a renderer may import: the printer, other renderers, the runtime embedding's
// import merging; and, for types only, the plan's types and the runtime's parts.
const RENDER_VALUES = /^emit\/(printer\/|render\/|imports\.ts$)/;
const RENDER_TYPES = /^(plan\/types\.ts|emit\/runtime\.ts)$/;

export function rendererViolations(all: readonly Edge[]): string[] {
  return all
    .filter((e) => e.from.startsWith("emit/render/"))
    .filter((e) => !RENDER_VALUES.test(e.to) && !(e.typeOnly && RENDER_TYPES.test(e.to)))
    .map((e) => `${e.from} -> ${e.to}${e.typeOnly ? " (type)" : ""}`);
}

describe("the import graph of src/", () => {
  const all = edges(sourceFiles(SRC));

  it("reads the imports it checks", () => {
    expect(all.length).toBeGreaterThan(50);
    expect(all).toContainEqual({ from: "compile.ts", to: "plan/module.ts", typeOnly: false });
    expect(all).toContainEqual({ from: "emit/render/ops.ts", to: "plan/types.ts", typeOnly: true });
    for (const e of all) expect(() => readFileSync(join(SRC, e.to)), `${e.from} -> ${e.to}`).not.toThrow();
  });

  it("has no cycle", () => {
    expect(cycles(all).map((c) => c.join(" -> "))).toEqual([]);
  });

  it(`imports only down the layers: ${LAYERS.join(" < ")}`, () => {
    expect(upwardImports(all)).toEqual([]);
  });

  it("lets renderers see plan types and the printer only", () => {
    expect(rendererViolations(all)).toEqual([]);
  });

  it("catches what it must (a cycle, an upward import, a renderer reaching for the IR)", () => {
    const bad: Edge[] = [
      { from: "plan/a.ts", to: "plan/b.ts", typeOnly: false },
      { from: "plan/b.ts", to: "plan/a.ts", typeOnly: true },
      { from: "validate/x.ts", to: "plan/a.ts", typeOnly: false },
      { from: "emit/render/r.ts", to: "ir/index.ts", typeOnly: true },
      { from: "emit/render/r.ts", to: "plan/types.ts", typeOnly: false },
    ];
    expect(cycles(bad)).toEqual([["plan/a.ts", "plan/b.ts", "plan/a.ts"]]);
    expect(upwardImports(bad)).toEqual(["validate/x.ts (validate) -> plan/a.ts (plan)"]);
    expect(upwardImports([{ from: "emit/render/r.ts", to: "plan/types.ts", typeOnly: true }])).toEqual([]);
    expect(rendererViolations(bad)).toEqual(["emit/render/r.ts -> ir/index.ts (type)", "emit/render/r.ts -> plan/types.ts"]);
    expect(importsOf('import {\n  a,\n  b,\n} from "./x.js";\nexport type { C } from "../y.js";\nimport "z";')).toEqual([
      { spec: "./x.js", typeOnly: false },
      { spec: "../y.js", typeOnly: true },
    ]);
  });
});
