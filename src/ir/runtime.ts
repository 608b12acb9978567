// The compiler's second input: the runtime every generated file embeds, as
// scripts/bundle_runtime.py bundled it at build time with Python's own parser
// (python/metaflow_dagster/_compiler/runtime_bundle.json). The compiler never reads
// Python: it picks parts by the names they define and pastes their bodies verbatim.
import { z } from "zod";

const IDENT = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);
const MODULE = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/);

/** One name an import statement binds: `import module [as alias]` (name null) or
 * `from module import name [as alias]`. */
const ImportSchema = z.strictObject({
  module: MODULE,
  name: IDENT.nullable(),
  alias: IDENT.nullable(),
});

/** One module of python/metaflow_dagster/runtime, split by ast. */
const PartSchema = z.strictObject({
  /** The module's name, e.g. "executor". */
  name: IDENT,
  /** Its imports of anything outside the runtime (those between runtime modules are
   * moot once the parts are concatenated, and are not here). */
  imports: z.array(ImportSchema),
  /** Its exact text after its imports and docstring, ending with a newline. */
  body: z.string(),
  /** The top-level names its body binds. */
  defines: z.array(IDENT),
  /** The other parts whose names its body uses. */
  requires: z.array(IDENT),
});

const BundleSchema = z.strictObject({
  /** In the package's PARTS order, which is the order they are embedded in. */
  parts: z.array(PartSchema).min(1),
  /** Every top-level name the runtime binds (defined or imported), sorted. */
  names: z.array(IDENT),
});

/** One binding of an import statement (the runtime's and the generated code's own). */
export type PyImport = z.infer<typeof ImportSchema>;
export type RuntimePart = z.infer<typeof PartSchema>;
export type RuntimeBundle = z.infer<typeof BundleSchema>;

/** The bundle, checked: its shape, each part's requirements known, no name bound twice. */
export function parseRuntimeBundle(input: unknown): RuntimeBundle {
  const bundle = BundleSchema.parse(input);
  const parts = new Set(bundle.parts.map((p) => p.name));
  const definedBy = new Map<string, string>();
  for (const part of bundle.parts) {
    for (const required of part.requires) {
      if (!parts.has(required)) {
        throw new Error(`runtime bundle: part ${part.name} requires unknown part ${required}`);
      }
    }
    // Concatenated, a later part's definition would silently replace an earlier one's.
    for (const name of part.defines) {
      const first = definedBy.get(name);
      if (first !== undefined) {
        throw new Error(`runtime bundle: parts ${first} and ${part.name} both define ${name}`);
      }
      definedBy.set(name, part.name);
    }
  }
  return bundle;
}
