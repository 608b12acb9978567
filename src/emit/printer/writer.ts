const INDENT_STEP = "    ";

/**
 * Indent-aware line builder for generated Python.
 *
 * Blank lines are requested, not written: they materialise only in front of
 * the next real line. That keeps them from piling up, from opening the file
 * or an indented block, and from trailing at the end, all of which
 * `ruff format` would otherwise rewrite.
 */
export class Writer {
  private readonly lines: string[] = [];
  private depth = 0;
  private pendingBlanks = 0;
  /** True until the current indented block receives its first line. */
  private atBlockStart = true;

  /** Indentation of the next line; hand it to `pyLiteral` as `indent`. */
  get currentIndent(): string {
    return INDENT_STEP.repeat(this.depth);
  }

  /**
   * Writes `text` at the current indentation. Only the first physical line is
   * indented: continuation lines are kept verbatim, because multi-line text
   * such as an exploded `pyLiteral(..., { indent: w.currentIndent })` already
   * carries absolute indentation.
   */
  line(text = ""): this {
    this.flushBlanks();
    const [first = "", ...rest] = text.split("\n");
    this.push(first === "" ? "" : this.currentIndent + first);
    for (const continuation of rest) this.push(continuation);
    this.atBlockStart = false;
    return this;
  }

  /** Lines written inside `fn` are indented one more level (4 spaces). */
  indent(fn: (w: this) => void): this {
    this.depth++;
    this.atBlockStart = true;
    this.pendingBlanks = 0;
    try {
      fn(this);
    } finally {
      this.depth--;
      // A blank requested at the end of a block belongs after it, and the
      // block is no longer at its start once we are back outside.
      this.atBlockStart = false;
    }
    return this;
  }

  /**
   * Writes `header` (e.g. `def f():`) and the indented body. An empty body
   * gets `pass` so the output always parses.
   */
  block(header: string, fn: (w: this) => void): this {
    this.line(header);
    const before = this.lines.length;
    this.indent((w) => {
      fn(w);
      if (this.lines.length === before) w.line("pass");
    });
    return this;
  }

  /**
   * Requests a blank line before the next line. Repeated requests do not
   * stack; `blank(2)` exists for the two blank lines ruff wants around
   * top-level `def`/`class`.
   */
  blank(count: 1 | 2 = 1): this {
    if (!this.atBlockStart && this.lines.length > 0) {
      this.pendingBlanks = Math.max(this.pendingBlanks, count);
    }
    return this;
  }

  /** The text, ending in exactly one newline; empty if nothing was written. */
  toString(): string {
    let end = this.lines.length;
    while (end > 0 && this.lines[end - 1] === "") end--;
    return end === 0 ? "" : `${this.lines.slice(0, end).join("\n")}\n`;
  }

  private flushBlanks(): void {
    let trailing = 0;
    for (let i = this.lines.length - 1; i >= 0 && this.lines[i] === ""; i--) trailing++;
    for (let i = trailing; i < this.pendingBlanks; i++) this.lines.push("");
    this.pendingBlanks = 0;
  }

  private push(physicalLine: string): void {
    this.lines.push(physicalLine.replace(/[ \t]+$/, ""));
  }
}
