// The runtime (the modules of python/metaflow_dagster/runtime/) is embedded verbatim in
// every generated file, its modules concatenated in the package's PARTS order. Their
// imports must sit with the generated file's imports (ruff's E402: imports at the top),
// so each module marks its import block; what follows is its body, except the marked
// block of imports between the runtime's own modules, which concatenation makes moot.

export const IMPORTS_BEGIN = "# [embedded imports: begin]";
export const IMPORTS_END = "# [embedded imports: end]";
export const PARTS_BEGIN = "# [runtime parts: begin]";
export const PARTS_END = "# [runtime parts: end]";
// Keeps ruff's isort from merging the two blocks (the line is dropped with them).
const ISORT_SPLIT = "# isort: split";

export interface RuntimeParts {
  imports: string[];
  body: string[];
  /** Top-level names the runtime defines or imports: generated names must avoid them. */
  names: ReadonlySet<string>;
}

// Joins `from m import (` ... `)` into one line so it reads like a one-line import.
function joinParenthesizedImports(lines: readonly string[]): string[] {
  const out: string[] = [];
  let open: string | null = null;
  for (const line of lines) {
    if (open !== null) {
      open += " " + line.trim();
      if (line.trim().startsWith(")")) {
        out.push(open.replace(/\(\s*/, "").replace(/,?\s*\)$/, ""));
        open = null;
      }
    } else if (/^from\s+\S+\s+import\s+\($/.test(line)) {
      open = line;
    } else {
      out.push(line);
    }
  }
  return out;
}

function topLevelNames(source: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const line of joinParenthesizedImports(source)) {
    let m = /^(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(line);
    if (m?.[1] !== undefined) names.add(m[1]);
    m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]*)?=/.exec(line);
    if (m?.[1] !== undefined) names.add(m[1]);
    m = /^import\s+(.+)$/.exec(line);
    if (m?.[1] !== undefined) {
      for (const part of m[1].split(",")) {
        const [mod, alias] = part.trim().split(/\s+as\s+/);
        names.add((alias ?? mod ?? "").split(".")[0] ?? "");
      }
    }
    m = /^from\s+\S+\s+import\s+(.+)$/.exec(line);
    if (m?.[1] !== undefined) {
      for (const part of m[1].split(",")) {
        const [name, alias] = part.trim().split(/\s+as\s+/);
        if ((alias ?? name) !== undefined && (alias ?? name) !== "") names.add(alias ?? name ?? "");
      }
    }
  }
  names.delete("");
  return names;
}

interface Part {
  imports: string[];
  body: string[];
}

function splitPart(source: string, index: number): Part {
  const lines = source.replace(/\r\n/g, "\n").split("\n");
  const begin = lines.indexOf(IMPORTS_BEGIN);
  const end = lines.indexOf(IMPORTS_END);
  if (begin < 0 || end < begin) {
    throw new Error(`runtime part ${index} lacks the '${IMPORTS_BEGIN}' / '${IMPORTS_END}' markers`);
  }
  const imports = lines.slice(begin + 1, end);
  let body = lines.slice(end + 1);
  if (body[0] === ISORT_SPLIT) body = body.slice(1);
  if (body[0] === PARTS_BEGIN) {
    const close = body.indexOf(PARTS_END);
    if (close < 0) throw new Error(`runtime part ${index} opens '${PARTS_BEGIN}' but never closes it`);
    body = body.slice(close + 1);
  }
  while (body.length > 0 && body[0] === "") body.shift();
  while (body.length > 0 && body[body.length - 1] === "") body.pop();
  if (imports.some((l) => l.startsWith("from __future__"))) {
    throw new Error("the runtime's embedded imports must not contain __future__ imports");
  }
  if (imports.some((l) => /^from\s+\./.test(l.trim()))) {
    throw new Error(`runtime part ${index} has a relative import outside its '${PARTS_BEGIN}' block`);
  }
  return { imports, body };
}

/** The runtime modules' sources (in PARTS order) as one import block and one body. */
export function splitRuntime(sources: readonly string[]): RuntimeParts {
  if (sources.length === 0) throw new Error("no runtime sources given");
  const parts = sources.map(splitPart);
  // Concatenated, a later module's definition would silently replace an earlier one's.
  const definedIn = new Map<string, number>();
  parts.forEach((part, index) => {
    for (const name of topLevelNames(part.body)) {
      const first = definedIn.get(name);
      if (first !== undefined) {
        throw new Error(`runtime parts ${first} and ${index} both define '${name}' at top level`);
      }
      definedIn.set(name, index);
    }
  });
  const imports = parts.flatMap((p) => p.imports);
  const body: string[] = [];
  for (const part of parts) {
    if (body.length > 0) body.push("", "");
    body.push(...part.body);
  }
  return { imports, body, names: topLevelNames([...imports, ...body]) };
}
