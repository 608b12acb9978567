// The flow's assets: which artifacts reach the end step, their keys, lineage from
// @trigger_on_finish, and what the generated file declares for them.
import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import { planAssets, reachingEnd } from "../src/plan/assets.js";
import { flowIR, linearIR, stepOf } from "./support/ir.js";
import { realBundle } from "./support/runtime.js";

const RUNTIME = realBundle();

describe("artifacts reaching the end step", () => {
  it("carries what a line of steps assigns", () => {
    const ir = linearIR(["a"]);
    stepOf(ir, "start").assigns = ["x"];
    stepOf(ir, "a").assigns = ["y"];
    expect(reachingEnd(ir)).toEqual(["x", "y"]);
  });

  it("stops at a join that does not merge, and keeps what it assigns", () => {
    const ir = flowIR({ start: ["a", "b"], a: ["join"], b: ["join"], join: ["end"], end: [] });
    stepOf(ir, "start").assigns = ["before"];
    stepOf(ir, "a").assigns = ["left"];
    stepOf(ir, "b").assigns = ["right"];
    stepOf(ir, "join").assigns = ["both"];
    expect(reachingEnd(ir)).toEqual(["both"]);
  });

  it("passes merge_artifacts' inputs, narrowed by its include and exclude lists", () => {
    const ir = flowIR({ start: ["a", "b"], a: ["join"], b: ["join"], join: ["end"], end: [] });
    stepOf(ir, "start").assigns = ["before"];
    stepOf(ir, "a").assigns = ["left"];
    stepOf(ir, "b").assigns = ["right"];
    stepOf(ir, "join").merges = { include: null, exclude: ["right"] };
    expect(reachingEnd(ir)).toEqual(["before", "left"]);
    stepOf(ir, "join").merges = { include: ["left"], exclude: [] };
    expect(reachingEnd(ir)).toEqual(["left"]);
  });

  it("keeps what either branch of a switch assigns, and what a loop assigns", () => {
    const ir = flowIR({
      start: { next: ["loop"] },
      loop: { next: ["loop", "small", "big"], switch: "route" },
      small: ["end"],
      big: ["end"],
      end: [],
    });
    stepOf(ir, "loop").assigns = ["count"];
    stepOf(ir, "small").assigns = ["s"];
    stepOf(ir, "big").assigns = ["b"];
    expect(reachingEnd(ir)).toEqual(["b", "count", "s"]);
  });
});

describe("asset keys and lineage", () => {
  it("keys the flow and its artifacts by project, branch and flow", () => {
    const ir = linearIR([], {
      name: "MyFlow",
      deploy: {
        projectFlowName: "p.prod.MyFlow",
        project: { name: "p", branch: "prod", flowName: "p.prod.MyFlow", production: true, userBranch: false },
      },
      automation: {
        onFinish: {
          flows: [
            { flow: "Up", project: "p", branch: "prod", projectFlowName: "p.prod.Up" },
            { flow: "Plain", project: null, branch: null, projectFlowName: "Plain" },
          ],
          options: {},
        },
      },
    });
    stepOf(ir, "end").assigns = ["score"];
    expect(planAssets(ir, "p_prod_MyFlow")).toEqual({
      key: ["p", "prod", "MyFlow"],
      artifacts: ["score"],
      upstream: [["p", "prod", "Up"], ["Plain"]],
      group: "p_prod_MyFlow",
    });
  });

  it("declares the artifacts the user named instead, or none with --no-assets", () => {
    const named = linearIR([], { deploy: { assets: { artifacts: ["model", "metrics"] } } });
    stepOf(named, "end").assigns = ["score"];
    expect(planAssets(named, "TestFlow")?.artifacts).toEqual(["model", "metrics"]);
    const none = linearIR([], { deploy: { assets: null } });
    expect(planAssets(none, "TestFlow")).toBeNull();
    const out = compile(none, RUNTIME);
    expect(out).not.toContain("assets=FlowAssets(");
    expect(out).not.toContain("flow_assets(FLOW)");
    expect(out).toContain("defs = Definitions(jobs=[TestFlow])");
  });

  it("writes the assets into FLOW and defs", () => {
    const ir = linearIR([], { name: "MyFlow" });
    stepOf(ir, "start").assigns = ["a", "b"];
    const out = compile(ir, RUNTIME);
    expect(out).toContain('assets=FlowAssets(key=("MyFlow",), artifacts=("a", "b"), group="MyFlow"),');
    expect(out).toContain("defs = Definitions(jobs=[MyFlow], assets=flow_assets(FLOW))");
  });
});
