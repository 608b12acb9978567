import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `PYTHON`, else the repo's `.venv` interpreter, else `python3` on PATH. */
export function pythonExecutable(): string {
  const fromEnv = process.env["PYTHON"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const venv = join(REPO_ROOT, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program with an argument vector (no shell) and captures its output. */
export function runProcess(command: string, args: readonly string[], stdin = ""): RunResult {
  const result = spawnSync(command, args, {
    input: stdin,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    cwd: REPO_ROOT,
  });
  if (result.error !== undefined) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs `script` in a fresh Python process with `stdin` as its input and
 * returns stdout; a non-zero exit is an error carrying Python's stderr.
 */
export function runPython(script: string, stdin = "", args: readonly string[] = []): string {
  const python = pythonExecutable();
  const result = runProcess(python, ["-c", script, ...args], stdin);
  if (result.status !== 0) {
    throw new Error(`${python} exited with ${String(result.status)}:\n${result.stderr}`);
  }
  return result.stdout;
}

/** `runPython` with JSON in and out; the result is `unknown` for the caller to check. */
export function runPythonJson(script: string, input: unknown): unknown {
  const parsed: unknown = JSON.parse(runPython(script, JSON.stringify(input)));
  return parsed;
}
