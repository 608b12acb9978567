import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pyLiteral } from "./literal.js";
import { Writer } from "./writer.js";

describe("Writer", () => {
  it("indents blocks by four spaces and ends with one newline", () => {
    const w = new Writer();
    w.line("import dagster as dg");
    w.blank(2);
    w.block("def f(x):", () => {
      w.block("if x:", () => w.line("return 1"));
      w.line("return 2");
    });
    expect(w.toString()).toBe(
      "import dagster as dg\n\n\ndef f(x):\n    if x:\n        return 1\n    return 2\n",
    );
  });

  it("tracks the current indent", () => {
    const w = new Writer();
    const seen: string[] = [w.currentIndent];
    w.indent(() => {
      seen.push(w.currentIndent);
      w.indent(() => seen.push(w.currentIndent));
      seen.push(w.currentIndent);
    });
    seen.push(w.currentIndent);
    expect(seen).toEqual(["", "    ", "        ", "    ", ""]);
  });

  it("passes itself to callbacks", () => {
    const w = new Writer();
    w.block("class A:", (b) => b.line("x = 1"));
    expect(w.toString()).toBe("class A:\n    x = 1\n");
  });

  it("never writes blanks at the start, twice in a row, at block start or at the end", () => {
    const w = new Writer();
    w.blank();
    w.line("a = 1");
    w.blank();
    w.blank();
    w.line("b = 2");
    w.block("def f():", () => {
      w.blank();
      w.line("return 1");
      w.blank();
    });
    w.line("c = 3");
    w.blank(2);
    expect(w.toString()).toBe("a = 1\n\nb = 2\ndef f():\n    return 1\n\nc = 3\n");
  });

  it("merges blank requests with explicit empty lines", () => {
    const w = new Writer();
    w.line("a");
    w.line();
    w.blank();
    w.line("b");
    w.line("");
    w.blank(2);
    w.line("c");
    w.line("");
    expect(w.toString()).toBe("a\n\nb\n\n\nc\n");
  });

  it("writes pass into an empty block", () => {
    const w = new Writer();
    w.block("def f():", () => w.blank());
    w.block("class A:", () => undefined);
    expect(w.toString()).toBe("def f():\n    pass\nclass A:\n    pass\n");
  });

  it("returns an empty string when nothing was written", () => {
    const w = new Writer();
    w.blank();
    expect(w.toString()).toBe("");
  });

  it("leaves no trailing whitespace, even on indented empty lines", () => {
    const w = new Writer();
    w.indent(() => {
      w.line("x = 1  ");
      w.line("");
      w.line("   ");
    });
    expect(w.toString()).toBe("    x = 1\n");
  });

  it("keeps continuation lines of an exploded literal as they are", () => {
    const w = new Writer();
    w.block("def f():", () => {
      const lit = pyLiteral(["a".repeat(50), "b".repeat(50)], { indent: w.currentIndent, prefixWidth: 4 });
      w.line(`x = ${lit}`);
    });
    const a = "a".repeat(50);
    const b = "b".repeat(50);
    expect(w.toString()).toBe(`def f():\n    x = [\n        "${a}",\n        "${b}",\n    ]\n`);
  });

  it("never emits trailing whitespace, and ends with exactly one newline", () => {
    type Op = { kind: "line"; text: string } | { kind: "blank"; n: 1 | 2 } | { kind: "indent"; ops: Op[] };
    const { op } = fc.letrec<{ op: Op }>((tie) => ({
      op: fc.oneof(
        { depthSize: "small", maxDepth: 4 },
        fc.record({ kind: fc.constant("line" as const), text: fc.constantFrom("", "x", "y ", " ") }),
        fc.record({ kind: fc.constant("blank" as const), n: fc.constantFrom(1 as const, 2 as const) }),
        fc.record({ kind: fc.constant("indent" as const), ops: fc.array(tie("op"), { maxLength: 5 }) }),
      ),
    }));
    const run = (w: Writer, ops: readonly Op[]): void => {
      for (const o of ops) {
        if (o.kind === "line") w.line(o.text);
        else if (o.kind === "blank") w.blank(o.n);
        else w.indent(() => run(w, o.ops));
      }
    };
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const w = new Writer();
        run(w, ops);
        const text = w.toString();
        expect(text === "" || (text.endsWith("\n") && !text.endsWith("\n\n"))).toBe(true);
        expect(text).not.toMatch(/[ \t]\n/);
      }),
    );
  });
});
