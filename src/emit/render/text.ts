// Text the generated file quotes: docstrings and the regenerate command in its header.

/** Text for a docstring: no backslashes or quote runs that could end or alter it. */
export function docSafe(text: string): string {
  return text.replace(/[\\"]/g, "'").replace(/[^\x20-\x7e]/g, "?");
}

/** An argument list as a POSIX shell would read it back (for humans to copy). */
export function shellJoin(args: readonly string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_./=:@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
}
