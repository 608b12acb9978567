import type { FlowIR } from "../../ir/index.js";
import type { JobArg, JobNode, JobPlan } from "../../plan/types.js";
import { pyCall, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";
import { assignment, defHeader } from "./layout.js";

function argText(arg: JobArg, split: boolean): string {
  if (arg.kind === "var") return arg.name;
  if (arg.fn === null) return `${arg.source}.collect()`;
  return split ? `${arg.results}.collect()` : `${arg.source}.map(${arg.fn}).collect()`;
}

// `x.map(f).collect()` is a call chain ruff would break; when the one-line form is too
// wide, map first into a variable of its own and collect that.
function renderCall(node: Extract<JobNode, { kind: "call" }>, w: Writer, used: ReadonlySet<string>): void {
  const target = used.has(node.target) ? node.target : null;
  const line = (split: boolean): string => {
    const expr = pyCall(node.op.fn, node.args.map((a) => pyRaw(argText(a, split))), []);
    return target !== null
      ? assignment(target, node.op.fn, expr, w.currentIndent)
      : pyLiteral(expr, { indent: w.currentIndent });
  };
  const oneLine = line(false);
  const fits = oneLine.split("\n").every((l, i) => (i === 0 ? w.currentIndent.length : 0) + l.length <= 88);
  if (fits) {
    w.line(oneLine);
    return;
  }
  for (const arg of node.args) {
    if (arg.kind === "collect" && arg.fn !== null) {
      const mapped = pyCall(`${arg.source}.map`, [pyRaw(arg.fn)], []);
      w.line(assignment(arg.results, `${arg.source}.map`, mapped, w.currentIndent));
    }
  }
  w.line(line(true));
}

// Variables the job body reads: only those are assigned (ruff's F841 otherwise).
function usedNames(nodes: readonly JobNode[], into = new Set<string>()): Set<string> {
  for (const node of nodes) {
    if (node.kind === "call") {
      for (const arg of node.args) into.add(arg.kind === "var" ? arg.name : arg.source);
    } else {
      into.add(node.source);
      if (node.result !== null) into.add(node.result);
      usedNames(node.body, into);
    }
  }
  return into;
}

function renderNodes(nodes: readonly JobNode[], w: Writer, used: ReadonlySet<string>): void {
  for (const node of nodes) {
    if (node.kind === "call") {
      renderCall(node, w, used);
    } else if (node.result !== null) {
      const result = node.result;
      w.blank();
      w.block(defHeader(node.fn, [`${node.param}: str`], "str", w.currentIndent), () => {
        renderNodes(node.body, w, used);
        w.line(`return ${result}`);
      });
      w.blank();
    }
  }
}

/** The job function reads like the flow's graph; the job object is named after the flow. */
export function renderJob(ir: FlowIR, plan: JobPlan, w: Writer): void {
  const kwargs: [string, PyValue][] = [["name", plan.jobName]];
  if (ir.deploy.description !== null) kwargs.push(["description", ir.deploy.description]);
  const tags: Record<string, PyValue> = { "metaflow/flow": ir.flow.name };
  kwargs.push(["tags", tags]);
  w.line("@" + pyLiteral(pyCall("job", [], kwargs), { indent: w.currentIndent, prefixWidth: 1 }));
  w.block(`def ${plan.jobAttr}() -> None:`, () => {
    w.line(`"""Metaflow flow ${plan.flowName}, one op per step."""`);
    renderNodes(plan.body, w, usedNames(plan.body));
  });
  w.blank(2);
  w.line(`defs = Definitions(jobs=[${plan.jobAttr}])`);
}
