// FlowGraph: the graph facts the planner reads (which foreaches are open at a step, and
// which segment, i.e. which Dagster `.map()`, a step runs in).
import { describe, expect, it } from "vitest";
import { segmentKey } from "../src/base/segment.js";
import type { FlowIR } from "../src/ir/index.js";
import { FlowGraph } from "../src/plan/graph.js";
import { enclosingForeach } from "../src/plan/analyze.js";
import { deco, flowIR, linearIR, stepOf } from "./support/ir.js";

/** Per step: `stack|depth|segment` (segment `-` at the top level). */
function layout(ir: FlowIR): Record<string, string> {
  const g = new FlowGraph(ir);
  const out: Record<string, string> = {};
  for (const step of ir.steps) {
    out[step.name] = `${g.stack(step).join(",")}|${g.depth(step)}|${segmentOrDash(g, step)}`;
  }
  return out;
}

function segmentOrDash(g: FlowGraph, step: FlowIR["steps"][number]): string {
  const segment = g.segment(step);
  return segment === null ? "-" : segmentKey(segment);
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

const TRIPLE = (): FlowIR =>
  flowIR({
    start: { next: ["level1"], foreach: "a" },
    level1: { next: ["level2"], foreach: "b" },
    level2: { next: ["level3"], foreach: "c" },
    level3: ["join3"],
    join3: { next: ["join2"], join: true },
    join2: { next: ["join1"], join: true },
    join1: { next: ["end"], join: true },
    end: [],
  });

describe("FlowGraph.stack, depth and segment", () => {
  it("puts every step of a flow without foreach at the top level", () => {
    const ir = flowIR({
      start: ["a", "b"],
      a: ["join"],
      b: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    expect(layout(ir)).toEqual({ start: "|0|-", a: "|0|-", b: "|0|-", join: "|0|-", end: "|0|-" });
    // A static split is open at its branches, but it is no foreach.
    expect(stepOf(ir, "a").splitParents).toEqual(["start"]);
  });

  it("maps a foreach body over the foreach; its join is back at the top level", () => {
    const ir = flowIR({
      start: { next: ["body"], foreach: "xs" },
      body: ["more"],
      more: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    expect(layout(ir)).toEqual({
      start: "|0|-",
      body: "start|1|body:start",
      more: "start|1|body:start",
      join: "|0|-",
      end: "|0|-",
    });
  });

  it("nests two foreach levels: the inner body is its own segment, the inner join regroups", () => {
    expect(layout(NESTED())).toEqual({
      start: "|0|-",
      // The nested foreach step itself runs once per outer split.
      outer: "start|1|body:start",
      inner: "start,outer|2|body:outer",
      inner_more: "start,outer|2|body:outer",
      // The inner join closes `outer`, but still runs once per split of `start`: its
      // inputs (collected from every inner split) are grouped again per outer split.
      inner_join: "start|1|inputs:inner_join",
      // After the join, in the same regrouped segment.
      after_inner: "start|1|inputs:inner_join",
      outer_join: "|0|-",
      end: "|0|-",
    });
  });

  it("nests three foreach levels, regrouping once per join", () => {
    expect(layout(TRIPLE())).toEqual({
      start: "|0|-",
      level1: "start|1|body:start",
      level2: "start,level1|2|body:level1",
      level3: "start,level1,level2|3|body:level2",
      join3: "start,level1|2|inputs:join3",
      join2: "start|1|inputs:join2",
      join1: "|0|-",
      end: "|0|-",
    });
    const ir = TRIPLE();
    expect(enclosingForeach(ir, stepOf(ir, "level3"))).toBe("level2");
    expect(enclosingForeach(ir, stepOf(ir, "join3"))).toBe("level1");
    expect(enclosingForeach(ir, stepOf(ir, "join1"))).toBeNull();
  });

  it("keeps a static split inside a nested foreach body in that body's segment", () => {
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
    expect(stepOf(ir, "a").splitParents).toEqual(["start", "outer", "body"]);
    expect(layout(ir)).toMatchObject({
      body: "start,outer|2|body:outer",
      a: "start,outer|2|body:outer",
      b: "start,outer|2|body:outer",
      ab: "start,outer|2|body:outer",
      inner_join: "start|1|inputs:inner_join",
      outer_join: "|0|-",
    });
  });

  it("regroups a step whose inputs come from different segments", () => {
    // In each outer split, one branch runs a nested foreach, the other a plain step;
    // `both` reads the nested join (regrouped) and the plain step (outer body).
    const ir = flowIR({
      start: { next: ["outer"], foreach: "xs" },
      outer: ["fan", "side"],
      fan: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["both"], join: true },
      side: ["both"],
      both: { next: ["after"], join: true },
      after: ["outer_join"],
      outer_join: { next: ["end"], join: true },
      end: [],
    });
    expect(layout(ir)).toEqual({
      start: "|0|-",
      outer: "start|1|body:start",
      fan: "start|1|body:start",
      inner: "start,fan|2|body:fan",
      inner_join: "start|1|inputs:inner_join",
      side: "start|1|body:start",
      both: "start|1|inputs:both",
      after: "start|1|inputs:both",
      outer_join: "|0|-",
      end: "|0|-",
    });
  });

  it("keeps switches and their convergence in the segment they run in", () => {
    const top = flowIR({
      start: { next: ["a", "b", "merge"], switch: "route" },
      a: ["merge"],
      b: ["merge"],
      merge: ["end"],
      end: [],
    });
    expect(Object.values(layout(top)).every((l) => l === "|0|-")).toBe(true);
    // Branches converge on a plain step: a switch is no split, so nothing is open.
    expect(stepOf(top, "merge").type).toBe("linear");
    expect(stepOf(top, "merge").inFuncs).toEqual(["a", "b", "start"]);
    const inForeach = flowIR({
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["halve", "triple"], switch: "parity" },
      halve: ["converge"],
      triple: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    expect(layout(inForeach)).toMatchObject({
      classify: "start|1|body:start",
      halve: "start|1|body:start",
      triple: "start|1|body:start",
      converge: "start|1|body:start",
      join: "|0|-",
    });
  });

  it("regroups the convergence of a switch branch running a nested foreach and a plain one", () => {
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
    expect(layout(ir)).toMatchObject({
      classify: "start|1|body:start",
      fan: "start|1|body:start",
      inner: "start,fan|2|body:fan",
      inner_join: "start|1|inputs:inner_join",
      plain: "start|1|body:start",
      converge: "start|1|inputs:converge",
      join: "|0|-",
    });
  });
});

describe("FlowGraph step facts", () => {
  it("tells foreaches, switches and loops apart", () => {
    const ir = flowIR({
      start: { next: ["body"], foreach: "xs" },
      body: ["spin"],
      spin: { next: ["spin", "pick"], switch: "again" },
      pick: { next: ["a", "b"], switch: "which" },
      a: ["converge"],
      b: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const g = new FlowGraph(ir);
    const is = (name: string) => {
      const s = g.step(name);
      return [g.isForeach(s), g.isSwitch(s), g.isLoop(s)];
    };
    expect(is("start")).toEqual([true, false, false]);
    expect(is("spin")).toEqual([false, true, true]);
    expect(is("pick")).toEqual([false, true, false]);
    expect(is("a")).toEqual([false, false, false]);
    expect(g.hasSwitch()).toBe(true);
    expect(new FlowGraph(linearIR(["a"])).hasSwitch()).toBe(false);
    expect(() => g.step("nowhere")).toThrow(/unknown step nowhere/);
  });

  it("does not count a num_parallel foreach as a foreach that fans out", () => {
    const ir = flowIR({
      start: { next: ["train"], foreach: "", step: { foreachParam: null, numParallel: 4 } },
      train: { next: ["join"], step: { decorators: [deco("parallel")] } },
      join: { next: ["end"], join: true },
      end: [],
    });
    const g = new FlowGraph(ir);
    expect(g.isForeach(g.step("start"))).toBe(false);
    expect(layout(ir)).toEqual({ start: "|0|-", train: "|0|-", join: "|0|-", end: "|0|-" });
    expect(g.closedForeach(g.step("join"))).toBeNull();
  });

  it("counts num_parallel given as an expression (N unknown until run time) the same way", () => {
    // `self.next(self.train, num_parallel=self.n)`: Metaflow's graph has no number.
    const ir = flowIR({
      start: { next: ["train"], foreach: "", step: { foreachParam: null, numParallel: 0, parallel: true } },
      train: { next: ["join"], step: { decorators: [deco("parallel")] } },
      join: { next: ["end"], join: true },
      end: [],
    });
    const g = new FlowGraph(ir);
    expect(g.isForeach(g.step("start"))).toBe(false);
    expect(g.isParallel(g.step("train"))).toBe(true);
    expect(g.closedParallel(g.step("join"))?.name).toBe("start");
    expect(g.closedForeach(g.step("join"))).toBeNull();
  });

  it("finds the foreach a join closes, and only for foreach joins", () => {
    const ir = flowIR({
      start: ["fan", "plain"],
      fan: { next: ["body"], foreach: "xs" },
      body: ["fan_join"],
      fan_join: { next: ["join"], join: true },
      plain: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    const g = new FlowGraph(ir);
    expect(g.closedForeach(g.step("fan_join"))?.name).toBe("fan");
    expect(g.closedForeach(g.step("join"))).toBeNull();
    expect(g.closedForeach(g.step("body"))).toBeNull();
    const nested = new FlowGraph(NESTED());
    expect(nested.closedForeach(nested.step("inner_join"))?.name).toBe("outer");
    expect(nested.closedForeach(nested.step("outer_join"))?.name).toBe("start");
  });

  it("gives the start step no inputs and a loop no input from itself", () => {
    const ir = flowIR({ start: ["grow"], grow: { next: ["grow", "end"], switch: "state" }, end: [] });
    const g = new FlowGraph(ir);
    expect(g.inputsOf(g.step("start"))).toEqual([]);
    expect(g.inputsOf(g.step("grow"))).toEqual(["start"]);
    expect(g.inputsOf(g.step("end"))).toEqual(["grow"]);
    // Even were the IR to list the loop's own edge, or the start step to have inputs.
    const looped = structuredClone(ir);
    stepOf(looped, "grow").inFuncs = ["grow", "start"];
    stepOf(looped, "start").inFuncs = ["grow"];
    const g2 = new FlowGraph(looped);
    expect(g2.inputsOf(g2.step("grow"))).toEqual(["start"]);
    expect(g2.inputsOf(g2.step("start"))).toEqual([]);
  });
});
