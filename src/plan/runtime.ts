// Which runtime parts a generated file embeds: those defining a name its code uses and,
// transitively, the parts those require. A job without fast launch or the thread
// executor carries none of their machinery.
import type { RuntimeBundle, PyImport, RuntimePart } from "../ir/runtime.js";
import type { RuntimePlan } from "./types.js";

/** The parts `used` needs, in the bundle's order; every used name must be defined. */
export function planRuntime(bundle: RuntimeBundle, used: Iterable<string>): RuntimePlan {
  const byName = new Map(bundle.parts.map((p) => [p.name, p]));
  const owner = new Map<string, RuntimePart>();
  for (const part of bundle.parts) for (const name of part.defines) owner.set(name, part);
  const chosen = new Set<string>();
  const todo: RuntimePart[] = [];
  for (const name of used) {
    const part = owner.get(name);
    // A name the plan takes from the runtime that no part defines is a compiler bug.
    if (part === undefined) throw new Error(`no runtime part defines ${name}`);
    todo.push(part);
  }
  for (let part = todo.pop(); part !== undefined; part = todo.pop()) {
    if (chosen.has(part.name)) continue;
    chosen.add(part.name);
    for (const required of part.requires) todo.push(byName.get(required) as RuntimePart);
  }
  const parts = bundle.parts.filter((p) => chosen.has(p.name));
  return { parts, imports: dedupe(parts.flatMap((p) => p.imports)) };
}

function dedupe(imports: readonly PyImport[]): PyImport[] {
  const seen = new Map<string, PyImport>();
  for (const i of imports) seen.set(`${i.module} ${i.name ?? ""} ${i.alias ?? ""}`, i);
  return [...seen.values()];
}
