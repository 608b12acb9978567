// The runtime (python/metaflow_dagster/runtime.py) is embedded verbatim in every
// generated file. Its imports must sit with the generated file's imports (ruff's E402:
// imports at the top), so the file marks its import block; everything after the block
// is its body.

export const IMPORTS_BEGIN = "# [embedded imports: begin]";
export const IMPORTS_END = "# [embedded imports: end]";

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

/** Split runtime.py into its marked import block and its body. */
export function splitRuntime(source: string): RuntimeParts {
  const lines = source.replace(/\r\n/g, "\n").split("\n");
  const begin = lines.indexOf(IMPORTS_BEGIN);
  const end = lines.indexOf(IMPORTS_END);
  if (begin < 0 || end < begin) {
    throw new Error(`runtime source lacks the '${IMPORTS_BEGIN}' / '${IMPORTS_END}' markers`);
  }
  const imports = lines.slice(begin + 1, end);
  const body = lines.slice(end + 1);
  while (body.length > 0 && body[0] === "") body.shift();
  while (body.length > 0 && body[body.length - 1] === "") body.pop();
  if (imports.some((l) => l.startsWith("from __future__"))) {
    throw new Error("the runtime's embedded imports must not contain __future__ imports");
  }
  return { imports, body, names: topLevelNames([...imports, ...body]) };
}
