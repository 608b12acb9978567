// The job: its decorator (name, tags, executor, IO manager) and the body the wiring pass built,
// laid out as ruff would (long map-collect chains split into a variable first).
import type { ExecutorPlan, JobArg, JobNode, JobPlan } from "../../plan/types.js";
import { pyCall, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";
import { assignment, defHeader } from "./layout.js";

const WIDTH = 88;

function argValue(arg: JobArg, split: boolean): PyValue {
  switch (arg.kind) {
    case "var":
      return pyRaw(arg.name);
    case "attr":
      return pyRaw(`${arg.name}.${arg.attr}`);
    case "list":
      return arg.items.map((item) => argValue(item, split));
    case "collect":
      if (arg.fn === null || split) return pyRaw(`${arg.results}.collect()`);
      return pyRaw(`${arg.source}.map(${arg.fn}).collect()`);
  }
}

// Variables the job body reads: only those are assigned (ruff's F841 otherwise).
function usedNames(nodes: readonly JobNode[], into = new Set<string>()): Set<string> {
  const visit = (arg: JobArg): void => {
    if (arg.kind === "var" || arg.kind === "attr") into.add(arg.name);
    else if (arg.kind === "list") arg.items.forEach(visit);
    else into.add(arg.fn === null ? arg.results : arg.source);
  };
  for (const node of nodes) {
    if (node.kind === "call") node.args.forEach(visit);
    else if (node.kind === "map") into.add(node.source);
    else {
      node.returns.forEach((r) => into.add(r));
      usedNames(node.body, into);
    }
  }
  return into;
}

// `return a, b` / `a, b = x`: flat when it fits, else a parenthesized, exploded tuple
// with a magic trailing comma (which ruff keeps as written).
function tupleStatement(head: string, items: readonly string[], tail: string, indent: string): string {
  const flat = `${head}${items.join(", ")}${tail}`;
  if (indent.length + flat.length <= WIDTH) return flat;
  const inner = `${indent}    `;
  return [`${head}(`, ...items.map((i) => `${inner}${i},`), `${indent})${tail}`].join("\n");
}

function fits(text: string, indent: string): boolean {
  return text.split("\n").every((l, i) => (i === 0 ? indent.length : 0) + l.length <= WIDTH);
}

// `x.map(f).collect()` is a call chain ruff would break; when the one-line form is too
// wide, map first into a variable of its own and collect that.
function renderCall(node: Extract<JobNode, { kind: "call" }>, w: Writer, used: ReadonlySet<string>): void {
  const target = node.target !== null && used.has(node.target) ? node.target : null;
  const text = (split: boolean): string => {
    const values = node.args.map((a) => argValue(a, split));
    const keywords = node.keywords;
    const expr =
      keywords === undefined
        ? pyCall(node.fn, values, [])
        : pyCall(node.fn, [], keywords.map((name, i): [string, PyValue] => [name, values[i] ?? null]));
    return target !== null ? assignment(target, node.fn, expr, w.currentIndent) : pyLiteral(expr, { indent: w.currentIndent });
  };
  const oneLine = text(false);
  if (fits(oneLine, w.currentIndent)) {
    w.line(oneLine);
    return;
  }
  for (const arg of node.args) {
    if (arg.kind === "collect" && arg.fn !== null) {
      const mapped = pyCall(`${arg.source}.map`, [pyRaw(arg.fn)], []);
      w.line(assignment(arg.results, `${arg.source}.map`, mapped, w.currentIndent));
    }
  }
  w.line(text(true));
}

function renderNodes(nodes: readonly JobNode[], w: Writer, used: ReadonlySet<string>): void {
  for (const node of nodes) {
    if (node.kind === "call") {
      renderCall(node, w, used);
    } else if (node.kind === "def") {
      const one = node.returnType;
      const returns = node.returns.length === 1 ? one : `tuple[${node.returns.map(() => one).join(", ")}]`;
      w.blank();
      w.block(defHeader(node.fn, [`${node.param}: ${node.paramType}`], returns, w.currentIndent), () => {
        renderNodes(node.body, w, used);
        w.line(tupleStatement("return ", node.returns, "", w.currentIndent));
      });
      w.blank();
    } else {
      const mapped = pyCall(`${node.source}.map`, [pyRaw(node.fn)], []);
      const targets = node.targets.join(", ");
      const line = `${targets} = ${node.source}.map(${node.fn})`;
      if (node.targets.length > 1 && w.currentIndent.length + line.length > WIDTH) {
        // ruff wraps a long tuple target, not the call, on the left-hand side.
        w.line(tupleStatement("", node.targets, ` = ${node.source}.map(${node.fn})`, w.currentIndent));
      } else {
        w.line(assignment(targets, `${node.source}.map`, mapped, w.currentIndent));
      }
    }
  }
}

function executor(job: JobPlan): PyValue {
  const inner = baseExecutor(job.executor);
  return job.exitHooksWrapper === null ? inner : pyCall(job.exitHooksWrapper, [pyRaw("FLOW"), inner], []);
}

function baseExecutor(plan: ExecutorPlan): PyValue {
  if (plan.kind === "threads") {
    return pyCall(plan.fn, [pyRaw("FLOW")], [["max_concurrent", plan.maxConcurrent]]);
  }
  // Celery's, Kubernetes': configured by run config (`execution: config:`), as their
  // libraries document.
  if (plan.kind !== "multiprocess") return pyRaw(plan.fn);
  const config: Record<string, PyValue> = { max_concurrent: plan.maxConcurrent };
  if (plan.preload !== null) {
    config["start_method"] = { forkserver: { preload_modules: pyCall("list", [pyRaw(plan.preload)]) } };
  }
  return pyCall("multiprocess_executor.configured", [config], []);
}

/** The job function reads like the flow's graph; the job object is named after the flow. */
export function renderJob(job: JobPlan, w: Writer): void {
  const kwargs: [string, PyValue][] = [["name", job.name]];
  if (job.description !== null) kwargs.push(["description", job.description]);
  kwargs.push(["tags", Object.fromEntries(job.tags)]);
  kwargs.push(["executor_def", executor(job)]);
  if (job.ioManager !== null) kwargs.push(["resource_defs", { io_manager: pyRaw(job.ioManager) }]);
  w.line("@" + pyLiteral(pyCall("job", [], kwargs), { indent: w.currentIndent, prefixWidth: 1 }));
  w.block(`def ${job.attr}() -> None:`, () => {
    w.line(`"""${job.docstring}"""`);
    renderNodes(job.body, w, usedNames(job.body));
  });
}
