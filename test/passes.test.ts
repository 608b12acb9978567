// Each planner pass on its own, on small IRs (the whole pipeline: plan.test.ts,
// wiring.test.ts; the printed result: golden.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { segmentKey } from "../src/base/segment.js";
import { parseFlowIR, type FlowIR } from "../src/ir/index.js";
import { analyze } from "../src/plan/analyze.js";
import { planAutomation } from "../src/plan/automation.js";
import { planConfigClass } from "../src/plan/config.js";
import { planFlowInfo } from "../src/plan/flow.js";
import { planJobDef } from "../src/plan/job.js";
import { planModule } from "../src/plan/module.js";
import { nameModule } from "../src/plan/name.js";
import { moduleNames } from "../src/plan/namer.js";
import { planOps } from "../src/plan/ops.js";
import { wire } from "../src/plan/wire.js";
import { CompileError } from "../src/validate/index.js";
import { bodyLines, deco, flowIR, linearIR, param, stepOf } from "./support/ir.js";
import { REPO_ROOT } from "./support/python.js";
import { realBundle } from "./support/runtime.js";

const NAMES = moduleNames(["run_step", "FlowInfo"]);

const NESTED = (): FlowIR =>
  flowIR({
    start: { next: ["outer"], foreach: "xs" },
    outer: { next: ["inner"], foreach: "ys" },
    inner: ["inner_join"],
    inner_join: { next: ["outer_join"], join: true },
    outer_join: { next: ["end"], join: true },
    end: [],
  });

const SWITCH = (): FlowIR =>
  flowIR({
    start: { next: ["a", "b"], switch: "self.pick" },
    a: ["join"],
    b: ["join"],
    join: { next: ["end"], join: true },
    end: [],
  });

function passesUpTo(ir: FlowIR) {
  const analysis = analyze(ir);
  const names = nameModule(ir, analysis, NAMES);
  const wiring = wire(analysis, names);
  return { analysis, names, wiring };
}

describe("analyze", () => {
  it("gives every step its segment as a tagged value, and its graph facts", () => {
    const a = analyze(NESTED());
    const seg = (s: string) => {
      const segment = a.steps.get(s)?.segment ?? null;
      return segment === null ? null : segmentKey(segment);
    };
    expect(a.order).toEqual(["start", "outer", "inner", "inner_join", "outer_join", "end"]);
    expect(a.steps.get("outer")?.segment).toEqual({ kind: "body", foreach: "start" });
    expect(a.steps.get("inner_join")?.segment).toEqual({ kind: "inputs", step: "inner_join" });
    expect([seg("start"), seg("inner"), seg("outer_join")]).toEqual([null, "body:outer", null]);
    expect(a.steps.get("inner")).toMatchObject({ stack: ["start", "outer"], split: true, fansOut: false });
    expect(a.steps.get("outer_join")).toMatchObject({ closesForeach: "start", type: "join" });
    expect(a.hasSwitch).toBe(false);
  });

  it("knows switches, their targets, and the guarded end", () => {
    const a = analyze(SWITCH());
    expect(a.steps.get("start")).toMatchObject({ switch: true, loop: false, targets: ["a", "b"] });
    expect([a.hasSwitch, a.guardedEnd]).toEqual([true, true]);
  });
});

describe("name", () => {
  it("names ops, helpers, variables and switch outputs, avoiding the module's names", () => {
    const ir = NESTED();
    const { names } = passesUpTo(ir);
    expect([...names.ops.values()]).toEqual(["op_start", "op_outer", "op_inner", "op_inner_join", "op_outer_join", "op_end"]);
    expect([...names.splitsOps]).toEqual([["outer", "op_outer_splits"]]);
    expect([...names.inputsOps]).toEqual([["inner_join", "op_inner_join_inputs"]]);
    expect([...names.each]).toEqual([
      ["body:start", "each_start"],
      ["body:outer", "each_outer"],
      ["inputs:inner_join", "each_inner_join"],
    ]);
    expect([...names.sources]).toEqual([
      ["body:outer", "outer_splits"],
      ["inputs:inner_join", "inner_join_inputs"],
    ]);
    expect(names.jobAttr).toBe("TestFlow");
    const sw = passesUpTo(SWITCH()).names;
    expect(sw.branches.get("start")).toEqual([
      ["a", "a"],
      ["b", "b"],
    ]);
    expect(sw.results.get("start:a")).toBe("start_a_results");
    // Switch `s`'s branch `b` and a step `s_b` keep variables of their own.
    const alike = flowIR({
      start: ["s_b"],
      s_b: ["s"],
      s: { next: ["b", "c"], switch: "self.pick" },
      b: ["join"],
      c: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const r = passesUpTo(alike).names.results;
    expect(r.get("s_b")).toBe("s_b_results");
    expect(r.get("s:b")).toMatch(/results/);
    expect(r.get("s:b")).not.toBe(r.get("s_b"));
    // The schedule's attribute is claimed too: flow `op_a`'s schedule and step
    // `a_schedule`'s op would both be `op_a_schedule`.
    const sched = passesUpTo(linearIR(["a_schedule"], { name: "op_a" })).names;
    expect(sched.ops.get("a_schedule")).toBe("op_a_schedule");
    expect(sched.schedule.attr).not.toBe("op_a_schedule");
    // A step named like a runtime function gets another variable; its op keeps `op_`.
    const clash = linearIR(["run_step"]);
    const n = passesUpTo(clash).names;
    expect(n.locals.get("run_step")).toBe("run__step_");
    expect(n.ops.get("run_step")).toBe("op_run_step");
  });

  it("names schedules and sensors after the job, and refuses a flow class the module needs", () => {
    const ir = linearIR([], { name: "MyFlow", deploy: { jobName: "my_job" } });
    const { names } = passesUpTo(ir);
    expect(names.schedule).toEqual({ attr: "MyFlow_schedule", name: "my_job_schedule" });
    expect(names.onEvents).toEqual({ attr: "MyFlow_on_events", name: "my_job_on_events" });
    expect(() => passesUpTo(linearIR([], { name: "op_start" }))).toThrow(CompileError);
  });
});

describe("wire", () => {
  it("builds the job body and the op inputs that match it", () => {
    const { wiring } = passesUpTo(SWITCH());
    expect(bodyLines(wiring.body)).toEqual([
      "start = op_start()",
      "a = op_a(start.a)",
      "b = op_b(start.b)",
      "join = op_join([a, b])",
      "end = op_end([join, start.started])",
    ]);
    expect(wiring.inputs.get("join")).toEqual([{ name: "inputs", list: true, nothing: false }]);
    expect(wiring.inputs.get("a")).toEqual([{ name: "start", list: false, nothing: false }]);
  });
});

describe("derived inputs", () => {
  const FOREACH = (): FlowIR =>
    flowIR({
      start: { next: ["body"], foreach: "items" },
      body: ["more"],
      more: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
  const PARALLEL = (): FlowIR =>
    flowIR({
      start: { next: ["train"], foreach: "", step: { foreachParam: null, numParallel: 4 } },
      train: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });

  it("lets ops find their inputs only where a split key is one foreach's index", () => {
    expect(analyze(FOREACH()).derivedInputs).toBe(true);
    expect(analyze(linearIR(["a"])).derivedInputs).toBe(true);
    // Switches pass a marker down untaken branches; nested foreaches have keys of
    // several levels; a parallel join reads the control's mapper tasks.
    expect(analyze(SWITCH()).derivedInputs).toBe(false);
    expect(analyze(NESTED()).derivedInputs).toBe(false);
    expect(analyze(PARALLEL()).derivedInputs).toBe(false);
    // Other executors run an op per process: each would read the foreach's splits again.
    for (const kind of ["multiprocess", "celery", "k8s"] as const) {
      const ir = FOREACH();
      ir.deploy.executor = { ...ir.deploy.executor, kind };
      expect(analyze(ir).derivedInputs).toBe(false);
    }
  });

  it("types every input and output Nothing and tells the runtime each step's inputs and split", () => {
    const ir = FOREACH();
    const { analysis, names, wiring } = passesUpTo(ir);
    const ops = planOps(ir, analysis, names, wiring);
    for (const op of ops) {
      expect(op.derived).toBe(true);
      expect(op.paths).toEqual({ kind: "none" });
      expect(op.inputs.every((i) => i.nothing)).toBe(true);
      expect(op.outputs.map((o) => o.type)).toEqual(["Nothing"]);
    }
    const byStep = new Map(ops.map((o) => [o.step, o]));
    expect(byStep.get("start")).toMatchObject({ statement: "yield from", returns: "Iterator[DynamicOutput[None]]" });
    expect(byStep.get("body")).toMatchObject({ statement: "call", returns: "None" });
    const facts = planFlowInfo(ir, analysis, names);
    expect(facts.derivedInputs).toBe(true);
    const fact = (step: string) => facts.steps.find((f) => f.name === step);
    expect(fact("start")).toMatchObject({ inputs: [], within: null });
    expect(fact("body")).toMatchObject({ inputs: ["start"], within: "start", split: true });
    expect(fact("more")).toMatchObject({ inputs: ["body"], within: "start", split: false });
    expect(fact("join")).toMatchObject({ inputs: ["more"], within: null, foreachJoin: true });
  });

  it("passes a static join's inputs by keyword: Dagster binds Nothing inputs by position only when one", () => {
    const { wiring } = passesUpTo(linearIR([]));
    const ir = flowIR({ start: ["a", "b"], a: ["join"], b: ["join"], join: ["end"], end: [] });
    const join = passesUpTo(ir).wiring.body.find((n) => n.kind === "call" && n.fn === "op_join");
    expect(join).toMatchObject({ keywords: ["a", "b"] });
    expect(wiring.body.every((n) => n.kind !== "call" || n.keywords === undefined)).toBe(true);
  });
});

describe("ops", () => {
  it("decides every op's outputs, annotation and runtime call", () => {
    const ir = SWITCH();
    stepOf(ir, "a").decorators = [deco("resources", { cpu: 2 })];
    stepOf(ir, "a").retries = { user: 1, error: 0 };
    const { analysis, names, wiring } = passesUpTo(ir);
    const ops = planOps(ir, analysis, names, wiring);
    const start = ops[0];
    expect(start).toMatchObject({ kind: "switch", call: "run_switch", statement: "yield from", emitGuardArg: true });
    expect(start?.outputs.map((o) => [o.name, o.required])).toEqual([
      ["a", false],
      ["b", false],
      ["started", true],
    ]);
    expect(ops.find((o) => o.step === "a")).toMatchObject({
      tags: [["metaflow/resources.cpu", "2"]],
      retry: { maxRetries: 1, delaySeconds: 0 },
      returns: "str",
      statement: "return",
      paths: { kind: "list", items: [{ name: "start", spread: false }] },
    });
    expect(ops.find((o) => o.step === "end")).toMatchObject({ guarded: true, paths: { kind: "input", name: "inputs" } });
  });

  it("adds helper ops for nested foreaches, with dynamic outputs", () => {
    const ir = NESTED();
    const { analysis, names, wiring } = passesUpTo(ir);
    const ops = planOps(ir, analysis, names, wiring);
    expect(ops.map((o) => `${o.fn}:${o.kind}`)).toContain("op_outer_splits:splits");
    const regroup = ops.find((o) => o.kind === "regroup");
    expect(regroup?.outputs).toEqual([{ name: "result", dynamic: true, type: "list[str]", required: true }]);
    expect(regroup?.call).toBe("regroup");
  });
});

describe("flow data and config", () => {
  it("bakes step facts and run limits into plain data", () => {
    const ir = linearIR(["a"], { deploy: { maxLogSize: 2, configs: { z: { json: "1", plain: true }, b: { json: "{}", plain: false } } } });
    stepOf(ir, "a").environment = { Z: "1", A: "2" };
    const { analysis, names } = passesUpTo(ir);
    const flow = planFlowInfo(ir, analysis, names);
    expect(flow.steps.find((s) => s.name === "a")?.env).toEqual([
      ["A", "2"],
      ["Z", "1"],
    ]);
    expect(flow.maxLogBytes).toBe(2 * 1024 * 1024);
    expect(flow.configs).toEqual([
      ["b", "{}", false],
      ["z", "1", true],
    ]);
  });

  it("types Config fields and their defaults", () => {
    const ir = linearIR([], {
      parameters: [
        param("f", { type: "float", default: 1 }),
        param("j", { type: "json", default: 1, defaultText: "1.0" }),
        param("r", { required: true, hasDefault: false }),
        param("o", { hasDefault: false }),
      ],
    });
    const config = planConfigClass(ir, passesUpTo(ir).names.config);
    expect(config?.fields.map((f) => [f.name, f.annotation, f.default])).toEqual([
      ["f", "float", { kind: "float", value: 1 }],
      ["j", "Any", { kind: "jsonText", text: "1.0" }],
      ["r", "str", { kind: "none" }],
      ["o", "str | None", { kind: "value", value: null }],
    ]);
  });
});

describe("automation and job", () => {
  it("plans the schedule and sensors, and the job's executor", () => {
    const ir = linearIR([], {
      parameters: [param("x")],
      automation: {
        schedule: { expression: "0 12 ? * MON *", timezone: null, attributes: {} },
        events: { events: [{ name: "go", parameters: {} }], options: {} },
      },
      deploy: { executor: { kind: "multiprocess", maxWorkers: 3, fastLaunch: true } },
      exitHooks: [{ onSuccess: ["ok"], onError: [], options: {} }],
    });
    const { analysis, names, wiring } = passesUpTo(ir);
    const automation = planAutomation(ir, names, planOps(ir, analysis, names, wiring));
    expect(automation.schedule).toMatchObject({ cron: "0 12 * * 1", attr: "TestFlow_schedule" });
    expect(automation.sensors).toEqual([
      expect.objectContaining({ check: "events_arrived", args: ["op_start"], attr: "TestFlow_on_events" }),
    ]);
    const job = planJobDef(ir, names, wiring);
    expect(job.executor).toEqual({ kind: "multiprocess", maxConcurrent: 3, preload: "FORKSERVER_PRELOAD" });
    expect(job.exitHooksWrapper).toBe("with_exit_hooks");
    expect(job.tags).toEqual([["metaflow/flow", "TestFlow"]]);
  });
});

describe("module", () => {
  it("is plain data: it survives a JSON round trip, so printing needs nothing else", () => {
    const ir = parseFlowIR(JSON.parse(readFileSync(join(REPO_ROOT, "test", "golden", "ui_demo_flow.ir.json"), "utf-8")));
    const plan = planModule(ir, realBundle());
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(plan.imports[0]?.module).toBe("dagster");
    expect(plan.runtimeNames).toContain("FlowInfo");
  });
});
