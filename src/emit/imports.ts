import { STDLIB_MODULES } from "./stdlib.js";

// One sorted import block for the generated module: the runtime's imports and the
// generated code's own, merged and ordered the way ruff's isort rules (I001) expect.

interface Imports {
  plain: Set<string>;
  from: Map<string, Set<string>>;
}

function section(module: string): number {
  const root = module.split(".")[0] ?? module;
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

/** Parse simple import statements (one per line, or parenthesized `from` imports). */
export function parseImports(lines: readonly string[], into?: Imports): Imports {
  const acc: Imports = into ?? { plain: new Set(), from: new Map() };
  const text = lines.join("\n").replace(/\(\s*([^)]*?)\s*,?\s*\)/g, (_m, inner: string) =>
    inner.replace(/\s*\n\s*/g, " "),
  );
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    let m = /^import\s+(.+)$/.exec(line);
    if (m?.[1] !== undefined) {
      for (const part of m[1].split(",")) acc.plain.add(part.trim());
      continue;
    }
    m = /^from\s+(\S+)\s+import\s+(.+)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) {
      const names = acc.from.get(m[1]) ?? new Set<string>();
      for (const part of m[2].split(",")) if (part.trim() !== "") names.add(part.trim());
      acc.from.set(m[1], names);
      continue;
    }
    throw new Error(`cannot merge import line: ${line}`);
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
      const names = [...(imports.from.get(mod) ?? [])].sort(memberOrder);
      const flat = `from ${mod} import ${names.join(", ")}`;
      if (flat.length <= width) {
        lines.push(flat);
      } else {
        lines.push(`from ${mod} import (`, ...names.map((n) => `    ${n},`), ")");
      }
    }
    if (lines.length > 0) {
      if (out.length > 0) out.push("");
      out.push(...lines);
    }
  }
  return out;
}
