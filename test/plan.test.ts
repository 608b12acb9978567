import { moduleNames } from "../src/compile.js";
// Planner unit tests: how a flow graph becomes Dagster ops and a job body, how retries
// and the start op's Config are planned. (Nested foreaches, switches and loops: see
// wiring.test.ts; the graph facts behind them: graph.test.ts.)
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFlowIR, type FlowIR, type StepIR } from "../src/ir/index.js";
import { planConfig } from "../src/plan/config.js";
import { enclosingForeach } from "../src/plan/analyze.js";
import { planModule } from "../src/plan/module.js";
import { METAFLOW_MAX_ATTEMPTS, planRetry } from "../src/plan/retry.js";
import type { JobNode, ModulePlan, OpPlan } from "../src/plan/types.js";
import { CompileError } from "../src/validate/index.js";
import { bodyLines, deco, flowIR, linearIR, param, stepOf, type NodeSpec, valued } from "./support/ir.js";
import { REPO_ROOT } from "./support/python.js";
import { realBundle } from "./support/runtime.js";

const RUNTIME = realBundle();
// What compile() reserves: the runtime's names and the generated module's own.
const MODULE_NAMES: ReadonlySet<string> = moduleNames(RUNTIME.names);

function plan(ir: FlowIR): ModulePlan {
  return planModule(ir, RUNTIME);
}

/** The op that runs `step` (not a helper op feeding it). */
function opOf(p: ModulePlan, step: string): OpPlan {
  const found = p.ops.filter((o) => o.step === step && o.kind !== "splits" && o.kind !== "regroup");
  if (found.length !== 1 || found[0] === undefined) throw new Error(`no single op for ${step}`);
  return found[0];
}

function body(p: ModulePlan): string[] {
  return bodyLines(p.job.body);
}

/** Per step: the op's kind and the facts the runtime gets (`mapped`: inside a `.map()`). */
function flags(p: ModulePlan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of p.flow.steps) {
    const op = opOf(p, f.name);
    expect(op.mapped, f.name).toBe(f.mapped);
    const parts: string[] = [op.kind];
    if (f.split) parts.push("split");
    if (f.foreachJoin) parts.push("foreach_join");
    if (f.loop) parts.push("loop");
    if (f.mapped) parts.push("mapped");
    out[f.name] = parts.join(" ");
  }
  return out;
}

/** An op's Dagster inputs, `name[]` for a list. */
function inputs(p: ModulePlan, step: string): string[] {
  return opOf(p, step).inputs.map((i) => `${i.name}${i.list ? "[]" : ""}`);
}

describe("test IR builder", () => {
  // The builder derives graph facts itself; they must be the ones Metaflow computes.
  const stems = readdirSync(join(REPO_ROOT, "test", "golden"))
    .filter((f) => f.endsWith(".ir.json"))
    .map((f) => f.slice(0, -".ir.json".length))
    .sort();

  it("covers every shape of the examples", () => {
    expect(stems).toEqual(
      expect.arrayContaining([
        "branch_flow",
        "foreach_flow",
        "foreach_in_branch_flow",
        "linear_flow",
        "loop_flow",
        "loop_in_foreach_flow",
        "nested_foreach_flow",
        "nested_switch_flow",
        "switch_flow",
        "switch_in_foreach_flow",
        "triple_foreach_flow",
      ]),
    );
  });

  it.each(stems)("reproduces Metaflow's graph of %s", (stem) => {
    const real = parseFlowIR(
      JSON.parse(readFileSync(join(REPO_ROOT, "test", "golden", `${stem}.ir.json`), "utf-8")),
    );
    const graph: Record<string, NodeSpec> = {};
    for (const s of real.steps) {
      graph[s.name] = {
        next: s.next,
        join: s.type === "join",
        // A foreach over `num_parallel` has no foreach parameter.
        ...(s.type === "foreach"
          ? { foreach: s.foreachParam ?? "", step: { foreachParam: s.foreachParam, numParallel: s.numParallel } }
          : {}),
        ...(s.switchCondition !== null ? { switch: s.switchCondition } : {}),
      };
    }
    const built = flowIR(graph, { startStep: real.flow.startStep, endStep: real.flow.endStep });
    const facts = (s: StepIR) => [
      s.name,
      s.type,
      s.next,
      s.inFuncs,
      s.splitParents,
      s.matchingJoin,
      s.foreachParam,
      s.numParallel,
      s.switchCondition,
    ];
    expect(built.steps.map(facts)).toEqual(real.steps.map(facts));
  });
});

describe("planJob wiring", () => {
  it("wires a linear flow op to op", () => {
    const p = plan(linearIR(["a", "b"]));
    expect(p.ops.map((o) => o.fn)).toEqual(["op_start", "op_a", "op_b", "op_end"]);
    expect(p.ops.map((o) => o.kind)).toEqual(["step", "step", "step", "step"]);
    expect(body(p)).toEqual(["start = op_start()", "a = op_a(start)", "b = op_b(a)", "end = op_end(b)"]);
    expect(inputs(p, "start")).toEqual([]);
    expect(inputs(p, "a")).toEqual(["start"]);
    expect(inputs(p, "end")).toEqual(["b"]);
    expect(flags(p)).toEqual({ start: "step", a: "step", b: "step", end: "step" });
    expect(p.ops.every((o) => o.branches.length === 0 && o.retry === null)).toBe(true);
    expect(p.flow.steps.map((f) => f.name)).toEqual(["start", "a", "b", "end"]);
    expect(p.job.attr).toBe("TestFlow");
    expect(p.job.name).toBe("TestFlow");
    expect(p.flow.name).toBe("TestFlow");
    expect(p.config).toBeNull();
  });

  it("wires a split and its join, the join taking one input per branch", () => {
    const ir = flowIR({
      start: ["a", "b"],
      a: ["join"],
      b: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p)).toEqual([
      "start = op_start()",
      "a = op_a(start)",
      "b = op_b(start)",
      "join = op_join(a, b)",
      "end = op_end(join)",
    ]);
    expect(inputs(p, "join")).toEqual(["a", "b"]);
    expect(Object.values(flags(p)).every((f) => f === "step")).toBe(true);
    expect(opOf(p, "start").docstring).toBe("Metaflow step start of TestFlow (splits into a, b).");
    expect(opOf(p, "join").docstring).toBe("Metaflow step join of TestFlow (joins a, b).");
  });

  it("orders a join's inputs as the IR's inFuncs, not as the split lists its branches", () => {
    const ir = flowIR({
      start: ["zeta", "alpha", "mid"],
      zeta: ["join"],
      alpha: ["join"],
      mid: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    expect(stepOf(ir, "join").inFuncs).toEqual(["alpha", "mid", "zeta"]);
    const sorted = plan(ir);
    expect(inputs(sorted, "join")).toEqual(["alpha", "mid", "zeta"]);
    expect(body(sorted)).toContain("join = op_join(alpha, mid, zeta)");
    // Whatever order the IR gives (the runtime passes inputs in this order).
    const shuffled = structuredClone(ir);
    stepOf(shuffled, "join").inFuncs = ["zeta", "alpha", "mid"];
    const p = plan(shuffled);
    expect(inputs(p, "join")).toEqual(["zeta", "alpha", "mid"]);
    expect(body(p)).toContain("join = op_join(zeta, alpha, mid)");
  });

  it("wires a split nested in a branch of another split", () => {
    const ir = flowIR({
      start: ["left", "right"],
      left: ["left_a", "left_b"],
      left_a: ["left_join"],
      left_b: ["left_join"],
      left_join: { next: ["join"], join: true },
      right: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p)).toEqual([
      "start = op_start()",
      "left = op_left(start)",
      "left_a = op_left_a(left)",
      "left_b = op_left_b(left)",
      "left_join = op_left_join(left_a, left_b)",
      "right = op_right(start)",
      "join = op_join(left_join, right)",
      "end = op_end(join)",
    ]);
    expect(p.job.body.every((n) => n.kind === "call")).toBe(true);
    expect(Object.values(flags(p)).every((f) => f === "step")).toBe(true);
  });

  it("maps a one-step foreach body and collects it for the join", () => {
    const ir = flowIR({
      start: { next: ["body"], foreach: "items" },
      body: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(valued(ir));
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  body = op_body(start)",
      "  return body",
      "join = op_join(start.map(each_start).collect())",
      "end = op_end(join)",
    ]);
    expect(flags(p)).toEqual({
      start: "foreach",
      body: "step split mapped",
      join: "step foreach_join",
      end: "step",
    });
    expect(inputs(p, "body")).toEqual(["start"]);
    expect(inputs(p, "join")).toEqual(["body[]"]);
    expect(opOf(p, "start").docstring).toContain("(foreach over items)");
    // No helper ops: a top-level foreach is its own dynamic source.
    expect(p.ops.map((o) => o.fn)).toEqual(["op_start", "op_body", "op_join", "op_end"]);
  });

  it("maps a multi-step foreach body; only its first step is a split task", () => {
    const ir = flowIR({
      start: { next: ["body"], foreach: "items" },
      body: ["more"],
      more: ["last"],
      last: ["collect"],
      collect: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(valued(ir));
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  body = op_body(start)",
      "  more = op_more(body)",
      "  last = op_last(more)",
      "  return last",
      "collect = op_collect(start.map(each_start).collect())",
      "end = op_end(collect)",
    ]);
    expect(flags(p)).toMatchObject({ body: "step split mapped", more: "step mapped", last: "step mapped" });
    expect(inputs(p, "collect")).toEqual(["last[]"]);
    expect(enclosingForeach(ir, stepOf(ir, "last"))).toBe("start");
    expect(enclosingForeach(ir, stepOf(ir, "collect"))).toBeNull();
  });

  it("keeps a split/join inside a foreach body within the mapped function", () => {
    const ir = flowIR({
      start: { next: ["fan"], foreach: "xs" },
      fan: ["a", "b"],
      a: ["inner"],
      b: ["inner"],
      inner: { next: ["outer"], join: true },
      outer: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(valued(ir));
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  fan = op_fan(start)",
      "  a = op_a(fan)",
      "  b = op_b(fan)",
      "  inner = op_inner(a, b)",
      "  return inner",
      "outer = op_outer(start.map(each_start).collect())",
      "end = op_end(outer)",
    ]);
    expect(flags(p)).toMatchObject({
      fan: "step split mapped",
      a: "step mapped",
      inner: "step mapped",
      outer: "step foreach_join",
    });
    expect(inputs(p, "inner")).toEqual(["a", "b"]);
    expect(inputs(p, "outer")).toEqual(["inner[]"]);
  });

  it("wires a foreach inside one branch of a split", () => {
    const ir = flowIR({
      start: ["fan", "plain"],
      fan: { next: ["measure"], foreach: "words" },
      measure: ["fan_join"],
      fan_join: { next: ["join"], join: true },
      plain: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(valued(ir));
    expect(body(p)).toEqual([
      "start = op_start()",
      "fan = op_fan(start)",
      "def each_fan(fan: str):",
      "  measure = op_measure(fan)",
      "  return measure",
      "fan_join = op_fan_join(fan.map(each_fan).collect())",
      "plain = op_plain(start)",
      "join = op_join(fan_join, plain)",
      "end = op_end(join)",
    ]);
    expect(flags(p)).toEqual({
      start: "step",
      fan: "foreach",
      measure: "step split mapped",
      fan_join: "step foreach_join",
      plain: "step",
      join: "step",
      end: "step",
    });
    expect(inputs(p, "join")).toEqual(["fan_join", "plain"]);
  });

  it("wires two foreaches one after the other, each with its own mapped function", () => {
    const ir = flowIR({
      start: { next: ["body"], foreach: "a" },
      body: ["collect"],
      collect: { next: ["single"], join: true },
      single: { next: ["shout"], foreach: "b" },
      shout: ["gather"],
      gather: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(valued(ir));
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  body = op_body(start)",
      "  return body",
      "collect = op_collect(start.map(each_start).collect())",
      "single = op_single(collect)",
      "def each_single(single: str):",
      "  shout = op_shout(single)",
      "  return shout",
      "gather = op_gather(single.map(each_single).collect())",
      "end = op_end(gather)",
    ]);
    expect(flags(p)).toMatchObject({ collect: "step foreach_join", single: "foreach", shout: "step split mapped" });
  });

  it("names locals so they shadow nothing the module or the job function defines", () => {
    // Step names that clash with runtime functions, imports, generated names, op
    // functions and the foreach helper.
    const clashing = ["run_step", "json", "FLOW", "defs", "context", "config", "op_start", "each_fan"];
    const ir = flowIR({
      start: ["fan", ...clashing],
      fan: { next: ["measure"], foreach: "xs" },
      measure: ["fan_join"],
      fan_join: { next: ["join"], join: true },
      ...Object.fromEntries(clashing.map((n) => [n, ["join"]])),
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    const stepOfFn = new Map(p.ops.map((o) => [o.fn, o.step]));
    const locals = new Map<string, string>();
    const helpers: string[] = [];
    const collect = (nodes: readonly JobNode[]): void => {
      for (const n of nodes) {
        if (n.kind === "call") locals.set(stepOfFn.get(n.fn) ?? "?", n.target ?? "");
        else if (n.kind === "def") {
          helpers.push(n.fn);
          collect(n.body);
        } else helpers.push(...n.targets);
      }
    };
    collect(p.job.body);
    expect(locals.size).toBe(ir.steps.length);
    const opFns = new Set(p.ops.map((o) => o.fn));
    expect(helpers).toEqual(["each_fan"]);
    for (const [step, local] of locals) {
      expect(local, step).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      expect(MODULE_NAMES.has(local), `${step} -> ${local}`).toBe(false);
      expect(opFns.has(local), `${step} -> ${local}`).toBe(false);
      expect(helpers.includes(local), `${step} -> ${local}`).toBe(false);
      expect(local).not.toBe(p.job.attr);
    }
    expect(new Set(locals.values()).size).toBe(locals.size);
    // pyIdent's injective encoding: `_` doubles, a trailing `_` terminates.
    expect(locals.get("run_step")).toBe("run__step_");
    expect(locals.get("each_fan")).toBe("each__fan_");
    expect(locals.get("op_start")).toBe("op__start_");
    expect(locals.get("fan")).toBe("fan");
    // Op inputs use the same names (they are Dagster input names and parameters).
    expect(inputs(p, "join")).toContain("run__step_");
    expect(inputs(p, "join")).toContain("context_");
    expect(inputs(p, "join")).toHaveLength(clashing.length + 1);
    const joined = stepOf(ir, "join").inFuncs.map((s) => locals.get(s) ?? "?");
    expect(inputs(p, "join")).toEqual(joined);
    expect(body(p)).toContain(`join = op_join(${joined.join(", ")})`);
    expect(opOf(p, "run_step").fn).toBe("op_run_step");
  });

  it("refuses a flow class name the module itself needs", () => {
    // BUG (src/plan/job.ts, planJob): the redesign checks the flow class name before the
    // op functions are reserved, so a flow class called `op_start` is accepted and its
    // job function redefines the start op (ruff F811), where it used to be refused.
    for (const name of ["FlowInfo", "run_step", "FLOW", "defs", "op_start", "op_end"]) {
      expect(() => plan(linearIR([], { name })), name).toThrow(CompileError);
      expect(() => plan(linearIR([], { name })), name).toThrow(/flow class name '.*' collides/);
    }
    expect(plan(linearIR([], { name: "MyFlow", deploy: { jobName: "other_job" } })).job).toMatchObject({
      attr: "MyFlow",
      name: "other_job",
    });
  });
});

describe("planRetry", () => {
  const withRetries = (
    user: number,
    error: number,
    attributes?: Record<string, string | number>,
  ): StepIR => {
    const ir = linearIR([], {});
    const step = stepOf(ir, "start");
    step.retries = { user, error };
    if (attributes !== undefined) step.decorators = [deco("retry", attributes)];
    return step;
  };

  it("plans nothing without retries", () => {
    expect(planRetry(withRetries(0, 0))).toBeNull();
    expect(planRetry(withRetries(0, 0, { times: 0, minutes_between_retries: 2 }))).toBeNull();
  });

  it("adds user and error retries", () => {
    expect(planRetry(withRetries(2, 0, { times: 2, minutes_between_retries: 0 }))).toEqual({
      maxRetries: 2,
      delaySeconds: 0,
    });
    // @catch alone adds error retries; no @retry means no delay.
    expect(planRetry(withRetries(0, 1))).toEqual({ maxRetries: 1, delaySeconds: 0 });
    expect(planRetry(withRetries(2, 1, { times: 2, minutes_between_retries: 0 }))?.maxRetries).toBe(3);
  });

  it("caps retries at Metaflow's attempt limit minus the first attempt", () => {
    expect(METAFLOW_MAX_ATTEMPTS).toBe(6);
    expect(planRetry(withRetries(4, 1))?.maxRetries).toBe(5);
    expect(planRetry(withRetries(4, 3))?.maxRetries).toBe(5);
    expect(planRetry(withRetries(5, 5))?.maxRetries).toBe(5);
  });

  it("waits minutes_between_retries, fractions included, as Metaflow resolved it", () => {
    const delay = (minutes: string | number) =>
      planRetry(withRetries(1, 0, { times: 1, minutes_between_retries: minutes }))?.delaySeconds;
    expect(delay(2)).toBe(120);
    // Metaflow's own default arrives as a string.
    expect(delay("2")).toBe(120);
    expect(delay(0.5)).toBe(30);
    expect(delay("1.5")).toBe(90);
    expect(delay(0.25)).toBe(15);
    expect(delay(0)).toBe(0);
    expect(delay("0")).toBe(0);
  });
});

describe("planConfig", () => {
  const configOf = (...params: ReturnType<typeof param>[]) =>
    planConfig(linearIR([], { parameters: params }), new Set(MODULE_NAMES));

  it("plans no Config without parameters", () => {
    expect(configOf()).toBeNull();
    expect(plan(linearIR()).ops.some((o) => o.config !== null)).toBe(false);
  });

  it("names fields after the flow attribute, so the user-facing name can be an alias", () => {
    const config = configOf(
      param("config-blob", { attribute: "config_blob", type: "json" }),
      param("class", { attribute: "klass" }),
      param("greeting"),
    );
    expect(config?.className).toBe("StartConfig");
    expect(config?.fields.map((f) => [f.name, f.parameter])).toEqual([
      ["config_blob", "config-blob"],
      ["klass", "class"],
      ["greeting", "greeting"],
    ]);
  });

  it("renames fields that would shadow pydantic's model attributes or be private", () => {
    const config = configOf(
      param("json"),
      param("schema"),
      param("model_name", { attribute: "model_name" }),
      param("_seed", { attribute: "_seed" }),
      param("print"),
    );
    const names = config?.fields.map((f) => f.name) ?? [];
    expect(names).toEqual(["json_", "schema_", "parammodel_name", "param_seed", "print_"]);
  });

  it("refuses two parameters that map to one field", () => {
    const both = () => configOf(param("_seed", { attribute: "_seed" }), param("param_seed"));
    expect(both).toThrow(CompileError);
    expect(both).toThrow(/parameters '_seed' and 'param_seed' map to the same Dagster config field 'param_seed'/);
  });

  it("gives the start op, and only it, the config", () => {
    const p = plan(linearIR(["a"], { parameters: [param("alpha")] }));
    expect(p.ops.filter((o) => o.config !== null).map((o) => o.step)).toEqual(["start"]);
  });

  it("renames the Config class away from module names", () => {
    const config = planConfig(linearIR([], { parameters: [param("x")] }), new Set(["StartConfig"]));
    expect(config?.className).toBe("StartConfig_");
  });
});
