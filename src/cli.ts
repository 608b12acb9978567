// The compiler's own command line: `node compiler.mjs compile --runtime <runtime_bundle.json>`
// reads the flow IR (JSON) on stdin and answers one JSON object on stdout:
// {"ok": true, "source": "...", "jobName": "..."} or {"ok": false, "errors": [{"message", "step"?, "decorator"?}]}.
// `node compiler.mjs job-name <project flow name>` answers {"jobName": "..."}: the job
// `create` would name after that flow without --name.
import { readFileSync } from "node:fs";
import { compile, compileFile } from "./compile.js";
import { jobName } from "./plan/namer.js";
import { parseRuntimeBundle } from "./ir/runtime.js";
import { WARMUP_IR } from "./warmup.js";
import { CompileError } from "./validate/index.js";

function readStdin(): string {
  return readFileSync(0, "utf-8");
}

function option(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

function main(args: readonly string[]): number {
  const [command] = args;
  if (command === "job-name" && args.length === 2) {
    process.stdout.write(JSON.stringify({ jobName: jobName(null, args[1] ?? "") }));
    return 0;
  }
  const runtimePath = option(args, "--runtime");
  if (command !== "compile" || runtimePath === undefined) {
    process.stderr.write(
      "usage: compiler compile --runtime <runtime_bundle.json> < flow-ir.json\n" +
        "       compiler job-name <project flow name>\n",
    );
    return 2;
  }
  let reply: object;
  // The runtime first: `dagster create` starts this process early, so this happens
  // while Metaflow is still working out the flow, before the IR arrives on stdin.
  const runtime = parseRuntimeBundle(JSON.parse(readFileSync(runtimePath, "utf-8")));
  compile(WARMUP_IR, runtime);
  try {
    const input: unknown = JSON.parse(readStdin());
    reply = { ok: true, ...compileFile(input, runtime) };
  } catch (error) {
    if (error instanceof CompileError) {
      reply = { ok: false, errors: error.problems };
    } else if (error instanceof SyntaxError) {
      reply = { ok: false, errors: [{ message: `the flow IR is not valid JSON: ${error.message}` }] };
    } else {
      throw error;
    }
  }
  process.stdout.write(JSON.stringify(reply));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
