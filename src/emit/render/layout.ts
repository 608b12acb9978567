// Statement layouts that ruff formats specially; the printer handles expressions.
import { pyLiteral, type PyValue } from "../printer/index.js";

const WIDTH = 88;

/** `def name(params) -> returns:` on one line, or one parameter per line if too wide. */
export function defHeader(name: string, params: readonly string[], returns: string, indent: string): string {
  const flat = `def ${name}(${params.join(", ")}) -> ${returns}:`;
  if (indent.length + flat.length <= WIDTH) return flat;
  const inner = `${indent}    `;
  return [`def ${name}(`, ...params.map((p) => `${inner}${p},`), `${indent}) -> ${returns}:`].join("\n");
}

/**
 * `target = <call>` as ruff lays it out: one line if it fits; else split the call's
 * arguments if `target = callee(` fits; else wrap the whole right-hand side in parentheses.
 */
export function assignment(target: string, callee: string, value: PyValue, indent: string): string {
  const prefix = `${target} = `;
  const flat = pyLiteral(value, { indent, prefixWidth: prefix.length, width: Number.MAX_SAFE_INTEGER });
  if (indent.length + prefix.length + flat.length <= WIDTH) return prefix + flat;
  if (indent.length + prefix.length + callee.length + 1 <= WIDTH) {
    return prefix + pyLiteral(value, { indent, prefixWidth: prefix.length });
  }
  const inner = `${indent}    `;
  return `${prefix}(\n${inner}${pyLiteral(value, { indent: inner })}\n${indent})`;
}
