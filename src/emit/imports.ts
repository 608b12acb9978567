import type { PyImport } from "../ir/runtime.js";
import { STDLIB_MODULES } from "./stdlib.js";

// One sorted import block for the generated module: the runtime's imports and the
// generated code's own, merged and ordered the way ruff's isort rules (I001) expect.

export interface Imports {
  plain: Set<string>;
  from: Map<string, Set<string>>;
}

function section(module: string): number {
  const root = module.split(/[. ]/)[0] ?? module; // "os.path", "sys as system"
  if (root === "__future__") return 0;
  return STDLIB_MODULES.has(root) ? 1 : 2;
}

// Natural, case-insensitive comparison (`op2` before `op10`), as ruff's isort sorts
// (the `natord` crate): runs of digits compare as numbers, other characters by code
// point, so `context.system` sorts before `context_creation` ('.' < '_').
const isDigit = (c: string): boolean => c >= "0" && c <= "9";
const natural = {
  compare(a: string, b: string): number {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    let i = 0;
    let j = 0;
    while (i < x.length && j < y.length) {
      if (isDigit(x[i] ?? "") && isDigit(y[j] ?? "")) {
        let ei = i;
        let ej = j;
        while (ei < x.length && isDigit(x[ei] ?? "")) ei++;
        while (ej < y.length && isDigit(y[ej] ?? "")) ej++;
        const nx = x.slice(i, ei).replace(/^0+(?=.)/, "");
        const ny = y.slice(j, ej).replace(/^0+(?=.)/, "");
        if (nx.length !== ny.length) return nx.length - ny.length;
        if (nx !== ny) return nx < ny ? -1 : 1;
        i = ei;
        j = ej;
        continue;
      }
      const cx = x.charCodeAt(i);
      const cy = y.charCodeAt(j);
      if (cx !== cy) return cx - cy;
      i++;
      j++;
    }
    return x.length - i - (y.length - j);
  },
};

// ruff's order-by-type: CONSTANTS, then Classes, then everything else; within a type,
// natural case-insensitive order, then case-sensitive as a tie-break.
function memberOrder(a: string, b: string): number {
  const rank = (s: string): number =>
    s.length > 1 && s === s.toUpperCase() ? 0 : /^[A-Z]/.test(s) ? 1 : 2;
  return rank(a) - rank(b) || natural.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

function moduleOrder(a: string, b: string): number {
  return natural.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Import bindings gathered into statements; one binding given twice binds once. */
export function collectImports(records: Iterable<PyImport>): Imports {
  const acc: Imports = { plain: new Set(), from: new Map() };
  for (const r of records) {
    const as = r.alias === null ? "" : ` as ${r.alias}`;
    if (r.name === null) {
      acc.plain.add(r.module + as);
    } else {
      const names = acc.from.get(r.module) ?? new Set<string>();
      names.add(r.name + as);
      acc.from.set(r.module, names);
    }
  }
  return acc;
}

/** Render imports as isort/ruff would: sections, plain imports first, sorted members. */
export function renderImports(imports: Imports, width = 88): string[] {
  const out: string[] = [];
  for (const sec of [0, 1, 2]) {
    const lines: string[] = [];
    const plain = [...imports.plain].filter((m) => section(m) === sec).sort(moduleOrder);
    for (const mod of plain) lines.push(`import ${mod}`);
    const froms = [...imports.from.keys()].filter((m) => section(m) === sec).sort(moduleOrder);
    for (const mod of froms) {
      const all = [...(imports.from.get(mod) ?? [])].sort(memberOrder);
      // An aliased member goes on a line of its own (isort's combine-as-imports = false),
      // and the module's lines are ordered by their first member.
      const plainNames = all.filter((n) => !n.includes(" as "));
      const groups = [...all.filter((n) => n.includes(" as ")).map((n) => [n])];
      if (plainNames.length > 0) groups.push(plainNames);
      groups.sort((x, y) => memberOrder(x[0] ?? "", y[0] ?? ""));
      for (const names of groups) {
        const flat = `from ${mod} import ${names.join(", ")}`;
        if (flat.length <= width) {
          lines.push(flat);
        } else {
          lines.push(`from ${mod} import (`, ...names.map((n) => `    ${n},`), ")");
        }
      }
    }
    if (lines.length > 0) {
      if (out.length > 0) out.push("");
      out.push(...lines);
    }
  }
  return out;
}
