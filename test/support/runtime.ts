// The runtime bundle the tests compile against: made afresh from the runtime package by
// scripts/bundle_runtime.py (the build's own bundler) once per test process, so a test
// never sees a stale build; and a stub of it, for goldens that show only what the
// compiler decides.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRuntimeBundle, type RuntimeBundle } from "../../src/ir/runtime.js";
import { pythonExecutable, REPO_ROOT, runProcess } from "./python.js";

let real: RuntimeBundle | undefined;

/** The bundle of python/metaflow_dagster/runtime as it is now. */
export function realBundle(): RuntimeBundle {
  if (real === undefined) {
    const out = mkdtempSync(join(tmpdir(), "runtime-bundle-"));
    try {
      const script = join(REPO_ROOT, "scripts", "bundle_runtime.py");
      const result = runProcess(pythonExecutable(), [script, "--out", out]);
      if (result.status !== 0) throw new Error(`bundle_runtime.py failed:\n${result.stderr}`);
      real = parseRuntimeBundle(JSON.parse(readFileSync(join(out, "runtime_bundle.json"), "utf-8")));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  return real;
}

/** Part `name`'s stub body: one comment line naming it (nothing that changes with its
 * code, so a runtime change alters goldens only where it changes which parts a job
 * embeds). */
export function stubBody(name: string): string {
  return `# runtime part ${name}, embedded verbatim\n`;
}

/**
 * The real bundle with each part's body a one-line stub and no imports: the same parts,
 * names and requirements, so a module embeds the same parts and takes the same names,
 * but its file reads as the compiler's decisions only (the runtime names it uses are
 * left undefined).
 */
export function stubBundle(): RuntimeBundle {
  const bundle = realBundle();
  return {
    names: bundle.names,
    parts: bundle.parts.map((p) => ({ ...p, imports: [], body: stubBody(p.name) })),
  };
}
