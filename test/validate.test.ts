// What the compiler refuses, and how it says so: graph shapes, decorators, names, and
// IR that is not an IR at all.
import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import { IR_VERSION, parseFlowIR, type FlowIR } from "../src/ir/index.js";
import { CompileError, describeProblem, validate, type Problem } from "../src/validate/index.js";
import { deco, flowIR, linearIR, stepOf } from "./support/ir.js";
import { realBundle } from "./support/runtime.js";

/** The problems validate() reports, or [] when it accepts the IR. */
function problems(ir: FlowIR): readonly Problem[] {
  try {
    validate(ir);
    return [];
  } catch (error) {
    if (error instanceof CompileError) return error.problems;
    throw error;
  }
}

function parseProblems(input: unknown): readonly Problem[] {
  try {
    parseFlowIR(input);
    return [];
  } catch (error) {
    if (error instanceof CompileError) return error.problems;
    throw error;
  }
}

const FOREACH = {
  start: { next: ["body"], foreach: "items" },
  body: ["join"],
  join: { next: ["end"], join: true },
  end: [],
} as const;

describe("validate: accepted shapes", () => {
  it("accepts linear, split/join, foreach and foreach-in-branch flows", () => {
    expect(problems(linearIR(["a"]))).toEqual([]);
    expect(problems(flowIR(FOREACH))).toEqual([]);
    const branch = flowIR({
      start: ["fan", "plain"],
      fan: { next: ["measure"], foreach: "words" },
      measure: ["fan_join"],
      fan_join: { next: ["join"], join: true },
      plain: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    expect(problems(branch)).toEqual([]);
  });

  it("accepts decorators it can honour", () => {
    const ir = linearIR(["a"]);
    stepOf(ir, "a").decorators = [deco("retry"), deco("catch"), deco("environment"), deco("resources")];
    expect(problems(ir)).toEqual([]);
  });
});

describe("validate: graph", () => {
  it("names the step that transitions to an unknown step", () => {
    const ir = linearIR(["a"]);
    stepOf(ir, "a").next = ["nowhere"];
    expect(problems(ir)).toEqual([
      { step: "a", message: "transitions to unknown step 'nowhere'" },
    ]);
  });

  it("reports a missing start or end step", () => {
    const ir = linearIR(["a"], { startStep: "begin", endStep: "finish" });
    expect(problems(ir).map((p) => p.message)).toEqual([
      "the graph has no step named 'begin'",
      "the graph has no step named 'finish'",
    ]);
  });

  // Once refused; the planner now wires every one of these shapes (see wiring.test.ts).
  it("accepts switches: at the top level, in a foreach body, and loops", () => {
    const top = flowIR({
      start: { next: ["a", "b", "merge"], switch: "mode" },
      a: ["merge"],
      b: ["merge"],
      merge: ["end"],
      end: [],
    });
    expect(stepOf(top, "start").type).toBe("split-switch");
    expect(problems(top)).toEqual([]);
    const inForeach = flowIR({
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["a", "b"], switch: "parity" },
      a: ["converge"],
      b: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    });
    expect(problems(inForeach)).toEqual([]);
    const loop = flowIR({ start: ["grow"], grow: { next: ["grow", "end"], switch: "state" }, end: [] });
    expect(problems(loop)).toEqual([]);
  });

  it("accepts num_parallel with @parallel", () => {
    const ir = flowIR({
      start: { next: ["train"], foreach: "", step: { foreachParam: null, numParallel: 4 } },
      train: { next: ["join"], step: { decorators: [deco("parallel")] } },
      join: { next: ["end"], join: true },
      end: [],
    });
    expect(problems(ir)).toEqual([]);
  });

  it("accepts a foreach nested in another foreach, two and three levels deep", () => {
    const two = flowIR({
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["inner_body"], foreach: "ys" },
      inner_body: ["inner_join"],
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: ["end"], join: true },
      end: [],
    });
    expect(problems(two)).toEqual([]);
    const three = flowIR({
      start: { next: ["level1"], foreach: "a" },
      level1: { next: ["level2"], foreach: "b" },
      level2: { next: ["level3"], foreach: "c" },
      level3: ["join3"],
      join3: { next: ["join2"], join: true },
      join2: { next: ["join1"], join: true },
      join1: { next: ["end"], join: true },
      end: [],
    });
    expect(problems(three)).toEqual([]);
  });

  it("accepts a foreach nested deeper, under a split inside a foreach body", () => {
    const ir = flowIR({
      start: { next: ["fan"], foreach: "xs" },
      fan: ["a", "b"],
      a: { next: ["a_body"], foreach: "ys" },
      a_body: ["a_join"],
      a_join: { next: ["inner"], join: true },
      b: ["inner"],
      inner: { next: ["outer"], join: true },
      outer: { next: ["end"], join: true },
      end: [],
    });
    expect(problems(ir)).toEqual([]);
  });

  it("accepts two foreaches in sequence (not nested)", () => {
    const ir = flowIR({
      start: { next: ["body"], foreach: "a" },
      body: ["collect"],
      collect: { next: ["single"], join: true },
      single: { next: ["shout"], foreach: "b" },
      shout: ["gather"],
      gather: { next: ["end"], join: true },
      end: [],
    });
    expect(problems(ir)).toEqual([]);
  });
});

describe("validate: decorators", () => {
  it.each([
    ["kubernetes", /Kubernetes/],
    ["batch", /AWS Batch/],
    ["slurm", /Slurm/],
  ])("refuses @%s, naming the step and the decorator", (name, why) => {
    const ir = linearIR(["train"]);
    stepOf(ir, "train").decorators = [deco("retry"), deco(name, { cpu: 2 })];
    const found = problems(ir);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ step: "train", decorator: name });
    expect(found[0]?.message).toMatch(why);
    expect(describeProblem(found[0] ?? { message: "" })).toMatch(new RegExp(`^step 'train', @${name}: `));
  });

  it.each(["conda", "pypi"])("refuses @%s unless disabled: Metaflow's runtime swaps the interpreter for it", (name) => {
    const ir = linearIR(["train"]);
    stepOf(ir, "train").decorators = [deco(name, { packages: { pandas: "2.2.0" }, disabled: null })];
    const found = problems(ir);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ step: "train", decorator: name });
    expect(found[0]?.message).toMatch(/environment Metaflow resolves and bootstraps/);
    stepOf(ir, "train").decorators = [deco(name, { packages: {}, disabled: true })];
    expect(problems(ir)).toEqual([]);
  });

  it("refuses a step decorator that hooks into Metaflow's own runtime, unless the ops reproduce it", () => {
    // An extension's remote-compute decorator (as @nvidia or @snowpark are) works
    // through runtime hooks an op never calls.
    const ir = linearIR(["train"]);
    const remote = { ...deco("nvidia", { gpu: 1 }), runtimeHooks: ["runtime_init", "runtime_step_cli"] };
    stepOf(ir, "train").decorators = [remote];
    const found = problems(ir);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ step: "train", decorator: "nvidia" });
    expect(found[0]?.message).toMatch(/Metaflow's own runtime \(runtime_init, runtime_step_cli\)/);
    for (const handled of ["environment", "parallel"]) {
      stepOf(ir, "train").decorators = [{ ...deco(handled), runtimeHooks: ["runtime_step_cli"] }];
      expect(problems(ir)).toEqual([]);
    }
  });

  it("accepts @exit_hook and other flow decorators; refuses its Argo-only options, naming them", () => {
    const hook = { onSuccess: ["notify"], onError: ["page"], options: {} };
    const ir = linearIR(["train"], {
      flowDecorators: [deco("project", { name: "p" }), deco("airflow_s3_key_sensor"), deco("exit_hook")],
      exitHooks: [hook],
    });
    expect(problems(ir)).toEqual([]);
    ir.exitHooks = [hook, { ...hook, options: { image: "python:3.11", b: 1 } }];
    const found = problems(ir);
    expect(found).toHaveLength(1);
    expect(found[0]?.decorator).toBe("exit_hook");
    expect(found[0]?.step).toBeUndefined();
    expect(describeProblem(found[0] ?? { message: "" })).toMatch(
      /^@exit_hook: options b, image are specific to Argo Workflows .* remove them$/,
    );
  });

  it("accepts environments that keep the runtime's Python, and conda/pypi only with every step disabled", () => {
    const withEnv = (env: string): FlowIR => linearIR(["a"], { deploy: { topLevelArgs: ["--quiet", `--environment=${env}`] } });
    expect(problems(withEnv("local"))).toEqual([]);
    expect(problems(withEnv("uv"))).toEqual([]);
    const unknown = problems(withEnv("nix"));
    expect(unknown).toHaveLength(1);
    expect(unknown[0]?.message).toMatch(/^--environment=nix may make Metaflow choose the interpreter/);
    for (const env of ["conda", "pypi"]) {
      const ir = withEnv(env);
      // Metaflow gives every step the environment's decorator.
      for (const step of ir.steps) step.decorators = [deco(env, { disabled: true })];
      expect(problems(ir)).toEqual([]);
      stepOf(ir, "a").decorators = [deco(env, { disabled: false })];
      expect(problems(ir).map((p) => [p.step, p.decorator])).toEqual([["a", env]]);
      stepOf(ir, "a").decorators = [];
      expect(problems(ir).map((p) => p.step)).toEqual(["a"]);
    }
  });

  it("reports every refused decorator of every step in one error", () => {
    const ir = linearIR(["a", "b"]);
    stepOf(ir, "a").decorators = [deco("kubernetes")];
    stepOf(ir, "b").decorators = [deco("batch")];
    stepOf(ir, "end").next = ["ghost"];
    let caught: unknown;
    try {
      compile(ir, realBundle());
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CompileError);
    const error = caught as CompileError;
    expect(error.problems.map((p) => [p.step, p.decorator])).toEqual([
      ["end", undefined],
      ["a", "kubernetes"],
      ["b", "batch"],
    ]);
    expect(error.message.split("\n")).toHaveLength(3);
    expect(error.message).toContain("step 'a', @kubernetes: ");
    expect(error.message).toContain("step 'end': transitions to unknown step 'ghost'");
  });
});

describe("validate: names", () => {
  it.each(["my-job", "my job", "job.v2", "", "jöb"])("refuses the job name %j", (jobName) => {
    const ir = linearIR([], { deploy: { jobName } });
    const found = problems(ir);
    expect(found).toHaveLength(1);
    expect(found[0]?.step).toBeUndefined();
    expect(found[0]?.message).toContain(`'${jobName}'`);
    expect(found[0]?.message).toMatch(/letters, digits and underscores; choose one with --name/);
  });

  it.each(["MyFlow", "my_job_2", "_x", "123"])("accepts the job name %j", (jobName) => {
    expect(problems(linearIR([], { deploy: { jobName } }))).toEqual([]);
  });
});

describe("parseFlowIR", () => {
  it("returns a well-formed IR unchanged", () => {
    const ir = flowIR(FOREACH);
    expect(parseFlowIR(JSON.parse(JSON.stringify(ir)))).toEqual(ir);
  });

  it("refuses another IR version, saying which and what to do", () => {
    const ir = { ...linearIR(), irVersion: IR_VERSION + 1 };
    const found = parseProblems(ir);
    expect(found).toHaveLength(1);
    expect(found[0]?.message).toBe(
      `IR version ${IR_VERSION + 1} is not supported by this compiler (expects ${IR_VERSION}); reinstall metaflow-dagster so both halves match`,
    );
    expect(parseProblems({ irVersion: "1" })[0]?.message).toMatch(/IR version 1 is not supported/);
  });

  it("names the JSON path of each malformed field", () => {
    const ir: Record<string, unknown> = JSON.parse(JSON.stringify(linearIR(["a"])));
    const steps = ir["steps"] as Record<string, unknown>[];
    delete steps[1]?.["name"];
    (steps[2] as Record<string, unknown>)["retries"] = { user: -1, error: 0 };
    (ir["deploy"] as Record<string, unknown>)["tags"] = "not-a-list";
    const messages = parseProblems(ir).map((p) => p.message);
    expect(messages).toHaveLength(3);
    expect(messages).toContainEqual(expect.stringMatching(/^malformed flow IR at steps\.1\.name: /));
    expect(messages).toContainEqual(expect.stringMatching(/^malformed flow IR at steps\.2\.retries\.user: /));
    expect(messages).toContainEqual(expect.stringMatching(/^malformed flow IR at deploy\.tags: /));
  });

  it("refuses unknown step types and empty step lists", () => {
    const bad: Record<string, unknown> = JSON.parse(JSON.stringify(linearIR()));
    (bad["steps"] as Record<string, unknown>[])[0]!["type"] = "loop";
    expect(parseProblems(bad).map((p) => p.message)).toEqual([
      expect.stringMatching(/^malformed flow IR at steps\.0\.type: /),
    ]);
    const empty = { ...linearIR(), steps: [] };
    expect(parseProblems(empty).map((p) => p.message)).toEqual([
      expect.stringMatching(/^malformed flow IR at steps: /),
    ]);
  });

  it("says <root> when the input is not an object at all", () => {
    for (const input of [null, 42, "ir", []]) {
      const found = parseProblems(input);
      expect(found.length, JSON.stringify(input)).toBeGreaterThan(0);
      expect(found[0]?.message).toMatch(/^malformed flow IR at <root>: /);
    }
  });

  it("is what compile() runs first", () => {
    expect(() => compile({ irVersion: IR_VERSION }, realBundle())).toThrow(/malformed flow IR at generator/);
  });
});
