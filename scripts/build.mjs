// Bundle the compiler into one ES module shipped inside the Python package.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// First the runtime every generated file embeds, split by Python's own parser into
// _compiler/runtime_bundle.json (and runtime_bundle.py): the compiler reads that, never
// the runtime's Python source.
const python = process.env.PYTHON ?? "python3";
const bundled = spawnSync(python, [join(root, "scripts/bundle_runtime.py")], {
  cwd: root,
  stdio: "inherit",
});
if (bundled.error !== undefined) {
  console.error(`build: could not run ${python} (set PYTHON): ${bundled.error.message}`);
  process.exit(1);
}
if (bundled.status !== 0) {
  console.error(`build: scripts/bundle_runtime.py failed (exit ${bundled.status ?? bundled.signal})`);
  process.exit(1);
}

await build({
  entryPoints: [join(root, "src/cli.ts")],
  outfile: join(root, "python/metaflow_dagster/_compiler/compiler.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node18",
  legalComments: "none",
  logLevel: "warning",
});
