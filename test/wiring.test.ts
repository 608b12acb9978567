// How the planner wires the shapes Dagster cannot express directly: nested foreaches
// (re-split and regroup helper ops, every segment mapped over a top-level dynamic
// source), switches (optional outputs and fan-in at the top level; NOT_TAKEN markers
// and named inputs inside a foreach body), loops, and the end op's guard.
import { describe, expect, it } from "vitest";
import { moduleNames } from "../src/compile.js";
import type { FlowIR } from "../src/ir/index.js";
import { planModule } from "../src/plan/module.js";
import type { JobNode, ModulePlan, OpPlan } from "../src/plan/types.js";
import { argText, bodyLines, flowIR, linearIR } from "./support/ir.js";
import { realBundle } from "./support/runtime.js";

const RUNTIME = realBundle();
const MODULE_NAMES: ReadonlySet<string> = moduleNames(RUNTIME.names);

function plan(ir: FlowIR): ModulePlan {
  return planModule(ir, RUNTIME);
}

function body(p: ModulePlan): string[] {
  return bodyLines(p.job.body);
}

/** Every op as `fn kind step (inputs)`, `name[]` for a list input, `*` when mapped. */
function ops(p: ModulePlan): string[] {
  return p.ops.map((o) => {
    const ins = o.inputs.map((i) => `${i.name}${i.list ? "[]" : ""}`).join(", ");
    return `${o.fn} ${o.kind} ${o.step} (${ins})${o.mapped ? " *" : ""}`;
  });
}

function opNamed(p: ModulePlan, fn: string): OpPlan {
  const found = p.ops.find((o) => o.fn === fn);
  if (found === undefined) throw new Error(`no op ${fn}`);
  return found;
}

/** Per step, the runtime facts that are set. */
function facts(p: ModulePlan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of p.flow.steps) {
    const parts: string[] = [];
    if (f.split) parts.push("split");
    if (f.foreachJoin) parts.push("foreach_join");
    if (f.branches.length > 0) parts.push(`branches=${f.branches.map(([o, t]) => `${t}->${o}`).join(",")}`);
    if (f.loop) parts.push("loop");
    if (f.mapped) parts.push("mapped");
    out[f.name] = parts.join(" ");
  }
  return out;
}

/** The inputs of the end op, and the arguments the job body passes it. */
function endCall(p: ModulePlan): string {
  const line = body(p).find((l) => l.startsWith("end = op_end("));
  if (line === undefined) throw new Error("no end call");
  return line;
}

/** Every name the job body binds: call targets, mapped functions, map targets. */
function bound(nodes: readonly JobNode[], into: string[] = []): string[] {
  for (const node of nodes) {
    if (node.kind === "call" && node.target !== null) into.push(node.target);
    else if (node.kind === "def") {
      into.push(node.fn);
      bound(node.body, into);
    } else if (node.kind === "map") into.push(...node.targets);
  }
  return into;
}

const NESTED = (): FlowIR =>
  flowIR({
    start: { next: ["outer"], foreach: "xs" },
    outer: { next: ["inner"], foreach: "ys" },
    inner: ["inner_more"],
    inner_more: ["inner_join"],
    inner_join: { next: ["after_inner"], join: true },
    after_inner: ["outer_join"],
    outer_join: { next: ["end"], join: true },
    end: [],
  });

describe("nested foreach", () => {
  it("re-splits the nested foreach with a helper op, and regroups its join's inputs", () => {
    const p = plan(NESTED());
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  outer = op_outer(start)",
      "  return outer",
      "outer_results = start.map(each_start)",
      // Dagster cannot map inside a map: the outer body's tasks are collected and split
      // again over composite keys, a new top-level dynamic source.
      "outer_splits = op_outer_splits(outer_results.collect())",
      "def each_outer(outer: str):",
      "  inner = op_inner(outer)",
      "  inner_more = op_inner_more(inner)",
      "  return inner_more",
      // The inner join runs once per outer split: its inputs, collected from every inner
      // split, are grouped per outer split by another helper op.
      "inner_join_inputs = op_inner_join_inputs(outer_splits.map(each_outer).collect())",
      "def each_inner_join(inputs: list[str]):",
      "  inner_join = op_inner_join(inputs)",
      "  after_inner = op_after_inner(inner_join)",
      "  return after_inner",
      "outer_join = op_outer_join(inner_join_inputs.map(each_inner_join).collect())",
      "end = op_end(outer_join)",
    ]);
    expect(ops(p)).toEqual([
      "op_start foreach start ()",
      // The nested foreach runs as a plain task; its helper fans out.
      "op_outer step outer (start) *",
      "op_outer_splits splits outer (outer[])",
      "op_inner step inner (outer) *",
      "op_inner_more step inner_more (inner) *",
      "op_inner_join step inner_join (inputs[]) *",
      "op_inner_join_inputs regroup inner_join (inner_more[])",
      "op_after_inner step after_inner (inner_join) *",
      "op_outer_join step outer_join (after_inner[])",
      "op_end step end (outer_join)",
    ]);
    expect(facts(p)).toEqual({
      start: "",
      outer: "split mapped",
      // The first step of the inner body gets its split index from its mapping key.
      inner: "split mapped",
      inner_more: "mapped",
      inner_join: "foreach_join mapped",
      after_inner: "mapped",
      outer_join: "foreach_join",
      end: "",
    });
    expect(opNamed(p, "op_outer_splits").docstring).toBe(
      "Splits of the nested foreach outer of TestFlow, one per (outer, inner) index.",
    );
    expect(opNamed(p, "op_inner_join_inputs").docstring).toBe(
      "Inputs of step inner_join of TestFlow, grouped per foreach split.",
    );
    for (const fn of ["op_outer_splits", "op_inner_join_inputs"]) {
      expect(opNamed(p, fn)).toMatchObject({ branches: [], config: null, mapped: false, retry: null });
    }
  });

  it("re-splits at every level of three nested foreaches and regroups at every join", () => {
    const ir = flowIR({
      start: { next: ["level1"], foreach: "a" },
      level1: { next: ["level2"], foreach: "b" },
      level2: { next: ["level3"], foreach: "c" },
      level3: ["join3"],
      join3: { next: ["join2"], join: true },
      join2: { next: ["join1"], join: true },
      join1: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  level1 = op_level1(start)",
      "  return level1",
      "level1_results = start.map(each_start)",
      "level1_splits = op_level1_splits(level1_results.collect())",
      "def each_level1(level1: str):",
      "  level2 = op_level2(level1)",
      "  return level2",
      "level2_results = level1_splits.map(each_level1)",
      "level2_splits = op_level2_splits(level2_results.collect())",
      "def each_level2(level2: str):",
      "  level3 = op_level3(level2)",
      "  return level3",
      "join3_inputs = op_join3_inputs(level2_splits.map(each_level2).collect())",
      "def each_join3(inputs: list[str]):",
      "  join3 = op_join3(inputs)",
      "  return join3",
      "join2_inputs = op_join2_inputs(join3_inputs.map(each_join3).collect())",
      "def each_join2(inputs: list[str]):",
      "  join2 = op_join2(inputs)",
      "  return join2",
      "join1 = op_join1(join2_inputs.map(each_join2).collect())",
      "end = op_end(join1)",
    ]);
    expect(p.ops.filter((o) => o.kind === "splits").map((o) => o.fn)).toEqual(["op_level1_splits", "op_level2_splits"]);
    expect(p.ops.filter((o) => o.kind === "regroup").map((o) => o.fn)).toEqual(["op_join3_inputs", "op_join2_inputs"]);
    expect(facts(p)).toEqual({
      start: "",
      level1: "split mapped",
      level2: "split mapped",
      level3: "split mapped",
      join3: "foreach_join mapped",
      join2: "foreach_join mapped",
      join1: "foreach_join",
      end: "",
    });
  });

  it("keeps a static split and its join inside the nested body's mapped function", () => {
    const ir = flowIR({
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["body"], foreach: "ys" },
      body: ["a", "b"],
      a: ["ab"],
      b: ["ab"],
      ab: { next: ["inner_join"], join: true },
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p).slice(6, 13)).toEqual([
      "def each_outer(outer: str):",
      "  body = op_body(outer)",
      "  a = op_a(body)",
      "  b = op_b(body)",
      "  ab = op_ab(a, b)",
      "  return ab",
      "inner_join_inputs = op_inner_join_inputs(outer_splits.map(each_outer).collect())",
    ]);
    expect(ops(p)).toContain("op_ab step ab (a, b) *");
    expect(facts(p)).toMatchObject({ body: "split mapped", a: "mapped", ab: "mapped" });
  });

  it("regroups a step whose inputs come from different segments, per outer split", () => {
    const ir = flowIR({
      start: { next: ["outer"], foreach: "xs" },
      outer: ["fan", "side"],
      fan: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["both"], join: true },
      side: ["both"],
      both: { next: ["outer_join"], join: true },
      outer_join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  outer = op_outer(start)",
      "  fan = op_fan(outer)",
      "  side = op_side(outer)",
      // Two values leave the outer body: the map is assigned, then each is collected.
      "  return fan, side",
      "fan_results, side_results = start.map(each_start)",
      "fan_splits = op_fan_splits(fan_results.collect())",
      "def each_fan(fan: str):",
      "  inner = op_inner(fan)",
      "  return inner",
      "inner_join_inputs = op_inner_join_inputs(fan_splits.map(each_fan).collect())",
      "def each_inner_join(inputs: list[str]):",
      "  inner_join = op_inner_join(inputs)",
      "  return inner_join",
      // `both` reads the regrouped segment and the outer body: one list per input step.
      "both_inputs = op_both_inputs(inner_join_inputs.map(each_inner_join).collect(), side_results.collect())",
      "def each_both(inputs: list[str]):",
      "  both = op_both(inputs)",
      "  return both",
      "outer_join = op_outer_join(both_inputs.map(each_both).collect())",
      "end = op_end(outer_join)",
    ]);
    expect(ops(p)).toEqual(
      expect.arrayContaining([
        "op_both step both (inputs[]) *",
        "op_both_inputs regroup both (inner_join[], side[])",
        "op_fan step fan (outer) *",
        "op_fan_splits splits fan (fan[])",
      ]),
    );
    // `both` closes the static split `outer`, not a foreach: no foreach-join grouping.
    expect(facts(p)).toMatchObject({ both: "mapped", inner_join: "foreach_join mapped", fan: "mapped" });
  });
});

const SWITCH = (): FlowIR =>
  flowIR({
    start: { next: ["big", "small", "merge"], switch: "route" },
    big: ["big_more"],
    big_more: ["merge"],
    small: ["merge"],
    merge: ["end"],
    end: [],
  });

describe("switch at the top level", () => {
  it("gives the switch one optional output per branch, and fans its branches in", () => {
    const p = plan(SWITCH());
    expect(body(p)).toEqual([
      "start = op_start()",
      "big = op_big(start.big)",
      "big_more = op_big_more(big)",
      "small = op_small(start.small)",
      // Only the chosen branch's value arrives: a fan-in of every way into `merge`,
      // including the case that jumps straight there.
      "merge = op_merge([big_more, small, start.merge])",
      "end = op_end([merge, start.started])",
    ]);
    expect(ops(p)).toEqual([
      "op_start switch start ()",
      "op_big step big (start)",
      "op_big_more step big_more (big)",
      "op_small step small (start)",
      "op_merge step merge (inputs[])",
      "op_end step end (inputs[])",
    ]);
    const start = opNamed(p, "op_start");
    expect(start.branches).toEqual([
      ["big", "big"],
      ["small", "small"],
      ["merge", "merge"],
    ]);
    // Not mapped: untaken outputs are simply not yielded (optional outputs).
    expect(start.mapped).toBe(false);
    expect(start.docstring).toBe("Metaflow step start of TestFlow (switch on route).");
    expect(facts(p)).toEqual({
      start: "branches=big->big,small->small,merge->merge",
      big: "",
      big_more: "",
      small: "",
      merge: "",
      end: "",
    });
  });

  it("names branch outputs away from Dagster's default output and tuple attributes", () => {
    const ir = flowIR({
      start: { next: ["result", "count", "index_step"], switch: "which" },
      result: ["merge"],
      count: ["merge"],
      index_step: ["merge"],
      merge: ["end"],
      end: [],
    });
    const p = plan(ir);
    expect(opNamed(p, "op_start").branches).toEqual([
      ["result_", "result"],
      ["count_", "count"],
      ["index_step", "index_step"],
    ]);
    expect(body(p)).toEqual(
      expect.arrayContaining([
        "result = op_result(start.result_)",
        "count = op_count(start.count_)",
        "index_step = op_index_step(start.index_step)",
        "merge = op_merge([count, index_step, result])",
      ]),
    );
  });

  it("runs a loop in one op with a single output, named `result`", () => {
    const ir = flowIR({ start: ["grow"], grow: { next: ["grow", "end"], switch: "state" }, end: [] });
    const p = plan(ir);
    expect(body(p)).toEqual(["start = op_start()", "grow = op_grow(start.result)", "end = op_end([grow, start.started])"]);
    const grow = opNamed(p, "op_grow");
    expect(grow.kind).toBe("switch");
    // Never an output back to itself: the iterations stay inside the op.
    expect(grow.branches).toEqual([["result", "end"]]);
    expect(grow.docstring).toBe("Metaflow step grow of TestFlow (loops on state).");
    expect(facts(p)).toMatchObject({ grow: "branches=end->result loop", end: "" });
  });

  it("gives a loop with several exits one output per exit", () => {
    const ir = flowIR({
      start: ["grow"],
      grow: { next: ["grow", "left", "right"], switch: "state" },
      left: ["merge"],
      right: ["merge"],
      merge: ["end"],
      end: [],
    });
    const p = plan(ir);
    expect(opNamed(p, "op_grow").branches).toEqual([
      ["left", "left"],
      ["right", "right"],
    ]);
    expect(body(p)).toEqual([
      "start = op_start()",
      "grow = op_grow(start.result)",
      "left = op_left(grow.left)",
      "right = op_right(grow.right)",
      "merge = op_merge([left, right])",
      "end = op_end([merge, start.started])",
    ]);
    expect(facts(p)).toMatchObject({ grow: "branches=left->left,right->right loop" });
  });

  it("nests switches and keeps a foreach in a branch at the top level", () => {
    const ir = flowIR({
      start: { next: ["left", "right"], switch: "outer" },
      left: { next: ["fan", "plain"], switch: "inner" },
      fan: { next: ["square"], foreach: "xs" },
      square: ["fan_join"],
      fan_join: { next: ["left_done"], join: true },
      plain: ["left_done"],
      left_done: ["finish"],
      right: ["finish"],
      finish: ["end"],
      end: [],
    });
    const p = plan(ir);
    expect(body(p)).toEqual([
      "start = op_start()",
      "left = op_left(start.left)",
      "fan = op_fan(left.fan)",
      "def each_fan(fan: str):",
      "  square = op_square(fan)",
      "  return square",
      "fan_join = op_fan_join(fan.map(each_fan).collect())",
      "plain = op_plain(left.plain)",
      "left_done = op_left_done([fan_join, plain])",
      "right = op_right(start.right)",
      "finish = op_finish([left_done, right])",
      "end = op_end([finish, start.started])",
    ]);
    expect(ops(p)).toEqual(
      expect.arrayContaining(["op_left switch left (start)", "op_fan foreach fan (left)", "op_left_done step left_done (inputs[])"]),
    );
  });
  it("still runs a split's join when a switch in one branch leads (indirectly) to it", () => {
    // BUG (src/plan/wiring.ts, isFanIn): Metaflow accepts a switch inside a split branch
    // whose branches run on to the split's join, and runs the join with the inputs that
    // ran (checked with Metaflow 2.19's local runtime on this very flow: `join` gets
    // a_more's and right's). The join op takes each way in as a plain input
    // (`op_join(a_more, b, right)`), so Dagster skips it, and the end op after it, when
    // the untaken branch is skipped: the run reports success without ever running `join`
    // or `end` (seen with execute_in_process; the end op's guard does not help, as its
    // input is plain). The inputs on switch branches must reach the join as a fan-in.
    const ir = flowIR({
      start: ["left", "right"],
      left: { next: ["a", "b"], switch: "which" },
      a: ["a_more"],
      a_more: ["join"],
      b: ["join"],
      right: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    const call = p.job.body.find((n) => n.kind === "call" && n.fn === "op_join");
    if (call?.kind !== "call") throw new Error("no op_join call");
    const plain = call.args.filter((a) => a.kind !== "list" && a.kind !== "collect").map(argText);
    expect(plain).not.toContain("a_more");
    expect(plain).not.toContain("b");
  });
});

describe("switch inside a foreach body", () => {
  const IN_FOREACH = (): FlowIR =>
    flowIR({
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["halve", "triple", "converge"], switch: "parity" },
      halve: ["converge"],
      triple: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });

  it("yields every branch (untaken ones a marker) and converges on named inputs, not a fan-in", () => {
    const p = plan(IN_FOREACH());
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  classify = op_classify(start)",
      "  halve = op_halve(classify.halve)",
      "  triple = op_triple(classify.triple)",
      "  converge = op_converge(classify.converge, halve, triple)",
      "  return converge",
      "join = op_join(start.result.map(each_start).collect())",
      "end = op_end([join, start.started])",
    ]);
    expect(ops(p)).toEqual([
      "op_start foreach start ()",
      "op_classify switch classify (start) *",
      "op_halve step halve (classify) *",
      "op_triple step triple (classify) *",
      // Dagster allows no fan-in inside a mapped function: one input per way in.
      "op_converge step converge (classify, halve, triple) *",
      "op_join step join (converge[])",
      "op_end step end (inputs[])",
    ]);
    // Mapped: every output is required and always yielded.
    expect(opNamed(p, "op_classify").mapped).toBe(true);
    // No fan-in in the body (only the guarded end op, at the top level, has one).
    expect(p.ops.filter((o) => o.inputs.some((i) => i.name === "inputs")).map((o) => o.fn)).toEqual(["op_end"]);
    expect(facts(p)).toEqual({
      start: "",
      classify: "split branches=halve->halve,triple->triple,converge->converge mapped",
      halve: "mapped",
      triple: "mapped",
      converge: "mapped",
      join: "foreach_join",
      end: "",
    });
  });

  it("collects every branch for a foreach join that the branches reach directly", () => {
    const ir = flowIR({
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["halve", "triple"], switch: "parity" },
      halve: ["join"],
      triple: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  classify = op_classify(start)",
      "  halve = op_halve(classify.halve)",
      "  triple = op_triple(classify.triple)",
      "  return halve, triple",
      "halve_results, triple_results = start.result.map(each_start)",
      "join = op_join(halve_results.collect(), triple_results.collect())",
      "end = op_end([join, start.started])",
    ]);
    expect(ops(p)).toContain("op_join step join (halve[], triple[])");
  });

  it("runs a loop per split, inside the body", () => {
    const ir = flowIR({
      start: { next: ["prepare"], foreach: "xs" },
      prepare: ["spin"],
      spin: { next: ["spin", "done"], switch: "state" },
      done: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  prepare = op_prepare(start)",
      "  spin = op_spin(prepare)",
      "  done = op_done(spin)",
      "  return done",
      "join = op_join(start.result.map(each_start).collect())",
      "end = op_end([join, start.started])",
    ]);
    expect(opNamed(p, "op_spin")).toMatchObject({ kind: "switch", branches: [["result", "done"]], mapped: true });
    expect(facts(p)).toMatchObject({ prepare: "split mapped", spin: "branches=done->result loop mapped" });
  });

  it("runs a loop per inner split of a nested foreach", () => {
    const ir = flowIR({
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["spin"], foreach: "ys" },
      spin: { next: ["spin", "done"], switch: "state" },
      done: ["inner_join"],
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p).slice(6, 11)).toEqual([
      "def each_outer(outer: str):",
      "  spin = op_spin(outer)",
      "  done = op_done(spin)",
      "  return done",
      "inner_join_inputs = op_inner_join_inputs(outer_splits.map(each_outer).collect())",
    ]);
    expect(facts(p)).toMatchObject({ spin: "split branches=done->result loop mapped" });
  });

  it("regroups the convergence of a branch that runs a nested foreach with a plain branch", () => {
    const ir = flowIR({
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["fan", "plain"], switch: "kind" },
      fan: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["converge"], join: true },
      plain: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(body(p)).toEqual([
      "start = op_start()",
      "def each_start(start: str):",
      "  classify = op_classify(start)",
      "  fan = op_fan(classify.fan)",
      "  plain = op_plain(classify.plain)",
      "  return fan, plain",
      "fan_results, plain_results = start.result.map(each_start)",
      "fan_splits = op_fan_splits(fan_results.collect())",
      "def each_fan(fan: str):",
      "  inner = op_inner(fan)",
      "  return inner",
      "inner_join_inputs = op_inner_join_inputs(fan_splits.map(each_fan).collect())",
      "def each_inner_join(inputs: list[str]):",
      "  inner_join = op_inner_join(inputs)",
      "  return inner_join",
      "converge_inputs = op_converge_inputs(inner_join_inputs.map(each_inner_join).collect(), plain_results.collect())",
      "def each_converge(inputs: list[str]):",
      "  converge = op_converge(inputs)",
      "  return converge",
      "join = op_join(converge_inputs.map(each_converge).collect())",
      "end = op_end([join, start.started])",
    ]);
  });

  it("returns the branch output, not the switch's outputs, when a case jumps into another segment", () => {
    // BUG (src/plan/wiring.ts, Wiring.ensureSegment/collectOf): when a switch inside a
    // foreach body feeds a step of another segment directly (here a case jumping to
    // `converge`, which also reads a nested foreach's join), the mapped function
    // returns the switch's whole outputs tuple (`return ..., classify, ...`), and
    // Dagster refuses the job at definition time ("Could not handle output from map
    // function"). It must return the branch output, `classify.converge`.
    const ir = flowIR({
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["fan", "plain", "converge"], switch: "kind" },
      fan: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["converge"], join: true },
      plain: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    const each = p.job.body.find((n) => n.kind === "def" && n.fn === "each_start");
    expect(each?.kind).toBe("def");
    expect(each?.kind === "def" ? each.returns : []).not.toContain("classify");
  });
});

// Dagster skips an op when every source of one of its inputs is missing. So the guarded
// end op has one fan-in input: its real inputs plus the start op's guard output, which
// start always emits. The end op then always runs, and fails if only the guard came.
describe("the end op's guard", () => {
  const withGuard = (p: ModulePlan): boolean => {
    const end = opNamed(p, "op_end");
    const start = opNamed(p, "op_start");
    expect(start.emitsGuard).toBe(end.guarded);
    if (end.guarded) expect(end.inputs).toEqual([{ name: "inputs", list: true, nothing: false }]);
    // No other op emits or checks it.
    expect(p.ops.filter((o) => o.emitsGuard || o.guarded).length).toBe(end.guarded ? 2 : 0);
    return end.guarded;
  };

  it("hangs the end op off a plain start step when the flow has a switch", () => {
    const ir = flowIR({
      start: ["pick"],
      pick: { next: ["a", "b"], switch: "which" },
      a: ["end"],
      b: ["end"],
      end: [],
    });
    const p = plan(ir);
    expect(withGuard(p)).toBe(true);
    // The start op has two outputs now: the others read its `result`.
    expect(body(p)).toEqual([
      "start = op_start()",
      "pick = op_pick(start.result)",
      "a = op_a(pick.a)",
      "b = op_b(pick.b)",
      "end = op_end([a, b, start.started])",
    ]);
  });

  it("hangs it off a start step that splits, too", () => {
    const ir = flowIR({
      start: ["left", "right"],
      left: { next: ["a", "b"], switch: "which" },
      a: ["left_done"],
      b: ["left_done"],
      left_done: ["join"],
      right: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(ir);
    expect(withGuard(p)).toBe(true);
    expect(endCall(p)).toBe("end = op_end([join, start.started])");
  });

  it("hangs it off a start step that is a switch, with a case straight to the end", () => {
    const ir = flowIR({
      start: { next: ["a", "end"], switch: "which" },
      a: ["end"],
      end: [],
    });
    const p = plan(ir);
    expect(withGuard(p)).toBe(true);
    expect(opNamed(p, "op_start").branches).toEqual([
      ["a", "a"],
      ["end", "end"],
    ]);
    expect(endCall(p)).toBe("end = op_end([a, start.end, start.started])");
  });

  it("hangs it off a foreach start step, whose splits the body maps over", () => {
    const foreachStart = flowIR({
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["a", "b"], switch: "which" },
      a: ["converge"],
      b: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const p = plan(foreachStart);
    expect(withGuard(p)).toBe(true);
    expect(body(p)).toContain("join = op_join(start.result.map(each_start).collect())");
    expect(endCall(p)).toBe("end = op_end([join, start.started])");
  });

  it("is absent without a switch", () => {
    expect(withGuard(plan(linearIR(["a"])))).toBe(false);
    expect(endCall(plan(linearIR(["a"])))).toBe("end = op_end(a)");
  });

  it("never takes the name of a step's output", () => {
    // The guard is a fixed output name of the start op (`started`): a switch start's
    // branch to a step called `started` gets another output name.
    const ir = flowIR({
      start: { next: ["started", "other"], switch: "which" },
      started: ["end"],
      other: ["end"],
      end: [],
    });
    const p = plan(ir);
    expect(withGuard(p)).toBe(true);
    const outputs = opNamed(p, "op_start").branches.map(([name]) => name);
    expect(outputs).not.toContain("started");
    expect(new Set(outputs).size).toBe(outputs.length);
    expect(endCall(p)).toMatch(/^end = op_end\(\[other, (\w+), start\.started\]\)$/);
    const plain = opNamed(plan(linearIR(["started"])), "op_end").inputs;
    expect(plain).toHaveLength(1);
  });
});

describe("generated names", () => {
  it("keeps helper ops and locals apart from step ops and from each other", () => {
    // Steps named like the helpers the nested foreach needs (op_outer_splits,
    // op_inner_join_inputs, outer_splits, each_outer, ...).
    const tail = ["outer_splits", "inner_join_inputs", "each_outer", "outer_results", "each_inner_join", "inputs"];
    const graph: Parameters<typeof flowIR>[0] = {
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: [tail[0] ?? ""], join: true },
    };
    tail.forEach((name, i) => {
      graph[name] = [tail[i + 1] ?? "end"];
    });
    graph["end"] = [];
    const p = plan(flowIR(graph));
    const fns = p.ops.map((o) => o.fn);
    expect(new Set(fns).size).toBe(fns.length);
    const stepOps = p.ops.filter((o) => o.kind !== "splits" && o.kind !== "regroup");
    expect(stepOps.map((o) => o.fn)).toContain("op_outer_splits");
    expect(stepOps.map((o) => o.fn)).toContain("op_inner_join_inputs");
    const splits = opNamed(p, p.ops.find((o) => o.kind === "splits")?.fn ?? "");
    const regroup = opNamed(p, p.ops.find((o) => o.kind === "regroup")?.fn ?? "");
    expect(splits.step).toBe("outer");
    expect(regroup.step).toBe("inner_join");
    expect(splits.fn).toBe("op__outer__splits_");
    expect(regroup.fn).toBe("op__inner__join__inputs_");
    expect(body(p)).toEqual(
      expect.arrayContaining([
        "outer_splits = op__outer__splits_(outer_results.collect())",
        "inner_join_inputs = op__inner__join__inputs_(outer_splits.map(each_outer).collect())",
        "outer__splits_ = op_outer_splits(outer_join)",
        "inner__join__inputs_ = op_inner_join_inputs(outer__splits_)",
      ]),
    );
    const names = bound(p.job.body);
    expect(new Set(names).size, names.join(" ")).toBe(names.length);
    for (const name of names) {
      expect(fns.includes(name), name).toBe(false);
      expect(MODULE_NAMES.has(name), name).toBe(false);
      expect(name).not.toBe(p.job.attr);
    }
    // Every step still gets its own op call.
    const calls = body(p).filter((l) => / = op_/.test(l.trim()));
    expect(calls).toHaveLength(p.ops.length);
  });
});
