// ModulePlan.runtimeNames lists exactly the embedded runtime's top-level names the
// generated code (after the runtime) refers to: the plan derives it from its decisions,
// and this test reads the printed code back to check it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import { RUNTIME_END } from "../src/emit/render/module.js";
import { parseFlowIR, type FlowIR } from "../src/ir/index.js";
import { planModule } from "../src/plan/module.js";
import { linearIR, param } from "./support/ir.js";
import { REPO_ROOT } from "./support/python.js";
import { realBundle } from "./support/runtime.js";

const RUNTIME = realBundle();
const DEFINED = new Set(RUNTIME.parts.flatMap((p) => p.defines));
const GOLDEN = join(REPO_ROOT, "test", "golden");

/**
 * Names the code refers to: identifiers outside strings and comments, not attributes
 * (`x.name`) and not keyword arguments (`name=`, which ruff writes without spaces).
 */
function referencedNames(code: string): Set<string> {
  const bare = code
    .replace(/"""[\s\S]*?"""/g, '""')
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""')
    .replace(/#.*$/gm, "");
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![.\w])([A-Za-z_]\w*)\b(?!=(?!=))/g)) names.add(m[1] ?? "");
  return names;
}

/** The generated code after the embedded runtime. */
function tail(source: string): string {
  const at = source.indexOf(`\n${RUNTIME_END}\n`);
  if (at < 0) throw new Error("no end-of-runtime marker");
  return source.slice(at + RUNTIME_END.length + 2);
}

const cases: [string, FlowIR][] = [
  ...readdirSync(GOLDEN)
    .filter((f) => f.endsWith(".ir.json"))
    .sort()
    .map((f): [string, FlowIR] => [f, parseFlowIR(JSON.parse(readFileSync(join(GOLDEN, f), "utf-8")))]),
  // What the goldens do not show: other executors, exit hooks, sensors, json defaults.
  [
    "multiprocess, exit hooks, sensors, json parameter",
    linearIR(["a"], {
      parameters: [param("blob", { type: "json", default: 1, defaultText: "1.0" })],
      deploy: { executor: { kind: "multiprocess", maxWorkers: 2, fastLaunch: true } },
      exitHooks: [{ onSuccess: ["done"], onError: [], options: {} }],
      automation: {
        events: { events: [{ name: "go", parameters: {} }], options: {} },
        onFinish: { flows: [{ flow: "Up", project: null, branch: null, projectFlowName: "Up" }], options: {} },
      },
    }),
  ],
  ["multiprocess without fast launch", linearIR([], { deploy: { executor: { kind: "multiprocess", maxWorkers: 2, fastLaunch: false } } })],
];

describe("ModulePlan.runtimeNames", () => {
  it.each(cases)("%s: lists exactly the runtime names the generated code uses", (_label, ir) => {
    const plan = planModule(ir, RUNTIME);
    const code = tail(compile(ir, RUNTIME));
    const used = referencedNames(code);
    expect(plan.runtimeNames).toEqual([...plan.runtimeNames].sort());
    for (const name of plan.runtimeNames) {
      expect(DEFINED.has(name), `${name} is the runtime's`).toBe(true);
      expect(used.has(name), `${name} is used`).toBe(true);
    }
    const fromRuntime = [...used].filter((n) => DEFINED.has(n)).sort();
    expect(fromRuntime).toEqual(plan.runtimeNames);
  });

  it("reads names the way the check needs", () => {
    const names = referencedNames('x = f(a, key=b.attr, c == d)  # e\n"""g"""\ny = "h"');
    expect([...names].sort()).toEqual(["a", "b", "c", "d", "f", "x", "y"]);
  });
});
