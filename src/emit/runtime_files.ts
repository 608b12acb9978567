// Reading the runtime package from disk: its modules, in the order its __init__.py's
// PARTS gives (the one place that order is written down).
import { readFileSync } from "node:fs";
import { join } from "node:path";

export function runtimePartNames(initSource: string): string[] {
  const m = /^PARTS = \(([^)]*)\)$/m.exec(initSource);
  if (m?.[1] === undefined) throw new Error("the runtime's __init__.py has no `PARTS = (...)` line");
  const names = [...m[1].matchAll(/"([A-Za-z_][A-Za-z0-9_]*)"/g)].map((x) => x[1] ?? "");
  if (names.length === 0) throw new Error("the runtime's PARTS is empty");
  return names;
}

/** The sources of the runtime package's modules at `dir`, in embedding order. */
export function readRuntime(dir: string): string[] {
  const names = runtimePartNames(readFileSync(join(dir, "__init__.py"), "utf-8"));
  return names.map((name) => readFileSync(join(dir, `${name}.py`), "utf-8"));
}
