import type { FlowIR } from "../../ir/index.js";
import type { JobArg, JobNode, JobPlan } from "../../plan/types.js";
import { pyCall, pyLiteral, pyRaw, type PyValue, type Writer } from "../printer/index.js";

function argText(arg: JobArg): string {
  if (arg.kind === "var") return arg.name;
  return arg.fn === null ? `${arg.source}.collect()` : `${arg.source}.map(${arg.fn}).collect()`;
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
      const prefix = used.has(node.target) ? `${node.target} = ` : "";
      const expr = pyCall(node.op.fn, node.args.map((a) => pyRaw(argText(a))), []);
      w.line(prefix + pyLiteral(expr, { indent: w.currentIndent, prefixWidth: prefix.length }));
    } else if (node.result !== null) {
      const result = node.result;
      w.blank();
      w.block(`def ${node.fn}(${node.param}: str) -> str:`, () => {
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
