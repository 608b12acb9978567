// What the emitted module says for a given IR (ops, retries, Config, FlowInfo, job body),
// checked as text, then by real Python, Dagster and ruff in one batch; and the compiler's
// command line (the bundle the Python package runs).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { compile } from "../src/compile.js";
import type { FlowIR, StepIR } from "../src/ir/index.js";
import { realBundle } from "./support/runtime.js";
import { planModule } from "../src/plan/module.js";
import { CompileError } from "../src/validate/index.js";
import { deco, flowIR, linearIR, param, stepOf, valued } from "./support/ir.js";
import { pythonExecutable, REPO_ROOT, runProcess } from "./support/python.js";

// The compiler and the runtime bundle the build wrote side by side.
const RUNTIME_PATH = join(REPO_ROOT, "python", "metaflow_dagster", "_compiler", "runtime_bundle.json");
const RUNTIME = realBundle();
const BUNDLE = join(REPO_ROOT, "python", "metaflow_dagster", "_compiler", "compiler.mjs");

/** The generated code after the embedded runtime. */
function generated(source: string): string {
  const at = source.indexOf("# ---- end of runtime ----");
  expect(at).toBeGreaterThan(0);
  return source.slice(at);
}

function lines(source: string): string[] {
  return generated(source).split("\n");
}

/** The import block at the top of a generated module. */
function importLines(source: string): string[] {
  const all = source.split("\n");
  const start = all.findIndex((l) => l.startsWith("import ") || l.startsWith("from "));
  const block: string[] = [];
  for (const line of all.slice(start)) {
    if (line.startsWith("# ---- runtime:")) break;
    block.push(line);
  }
  return block.filter((l) => l !== "");
}

/** Names the import block binds (read as text: it is the compiler's own simple output). */
function importedNames(source: string): Set<string> {
  const text = importLines(source).join("\n").replace(/\(([^)]*)\)/g, (_m, inner: string) => inner.replace(/\n/g, " "));
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const plain = /^import\s+(\S+)/.exec(line);
    if (plain?.[1] !== undefined) names.add(plain[1].split(".")[0] ?? plain[1]);
    const from = /^from\s+\S+\s+import\s+(.+)$/.exec(line);
    for (const m of from?.[1]?.split(",") ?? []) if (m.trim() !== "") names.add(m.trim());
  }
  return names;
}

function jobBody(source: string): string[] {
  const all = lines(source);
  const at = all.findIndex((l) => l.startsWith("def ") && l.endsWith("() -> None:"));
  const out: string[] = [];
  for (const line of all.slice(at + 1)) {
    if (line !== "" && !line.startsWith(" ")) break;
    if (line !== "") out.push(line);
  }
  return out;
}

const FOREACH_IN_BRANCH = (): FlowIR =>
  flowIR({
    start: ["fan", "plain"],
    fan: { next: ["measure"], foreach: "words" },
    measure: ["more"],
    more: ["fan_join"],
    fan_join: { next: ["join"], join: true },
    plain: ["join"],
    join: { next: ["end"], join: true },
    end: [],
  });

describe("emitted ops", () => {
  it("imports only what the module uses", () => {
    const plain = importedNames(compile(linearIR(["a"]), RUNTIME));
    for (const name of ["Definitions", "In", "Out", "job", "op"]) {
      expect(plain.has(name), name).toBe(true);
    }
    for (const name of ["DynamicOut", "RetryPolicy", "Config", "Field"]) {
      expect(plain.has(name), name).toBe(false);
    }
    const rich = linearIR(["a"], { parameters: [param("x")] });
    stepOf(rich, "a").retries = { user: 1, error: 0 };
    const names = importedNames(compile(rich, RUNTIME));
    for (const name of ["RetryPolicy", "Config", "Field"]) expect(names.has(name), name).toBe(true);
    expect(importedNames(compile(FOREACH_IN_BRANCH(), RUNTIME)).has("DynamicOut")).toBe(true);
  });

  it("writes one op per step, typed, calling the runtime", () => {
    const out = lines(compile(valued(FOREACH_IN_BRANCH()), RUNTIME)).join("\n");
    expect(out).toContain(
      [
        "@op(ins={\"start\": In(str)}, out=DynamicOut(str))",
        "def op_fan(context: OpExecutionContext, start: str) -> Iterator[DynamicOutput[str]]:",
        '    """Metaflow step fan of TestFlow (foreach over words)."""',
        '    yield from fan_out(context, FLOW, "fan", [start])',
      ].join("\n"),
    );
    expect(out).toContain(
      [
        '@op(ins={"more": In(list[str])}, out=Out(str))',
        "def op_fan_join(context: OpExecutionContext, more: list[str]) -> str:",
        '    """Metaflow step fan_join of TestFlow (joins more)."""',
        '    return run_step(context, FLOW, "fan_join", more)',
      ].join("\n"),
    );
    expect(out).toContain(
      [
        '@op(ins={"fan_join": In(str), "plain": In(str)}, out=Out(str))',
        "def op_join(context: OpExecutionContext, fan_join: str, plain: str) -> str:",
      ].join("\n"),
    );
    expect(out).toContain('    return run_step(context, FLOW, "join", [fan_join, plain])');
    expect(out).toContain("@op(out=Out(str))\ndef op_start(context: OpExecutionContext) -> str:");
    expect(out).toContain('    return run_step(context, FLOW, "start")\n');
  });

  it("gives retried ops a RetryPolicy: user + error retries, delay in seconds", () => {
    const ir = linearIR(["a", "b", "c"]);
    stepOf(ir, "a").retries = { user: 2, error: 0 };
    stepOf(ir, "a").decorators = [deco("retry", { times: 2, minutes_between_retries: 0.125 })];
    stepOf(ir, "b").retries = { user: 0, error: 1 };
    stepOf(ir, "b").decorators = [deco("catch", { var: null, print_exception: true })];
    stepOf(ir, "c").retries = { user: 3, error: 4 };
    stepOf(ir, "c").decorators = [deco("retry", { times: "3", minutes_between_retries: "2" })];
    valued(ir);
    const out = lines(compile(ir, RUNTIME));
    const text = out.join("\n");
    expect(text).toContain(
      [
        "@op(",
        '    ins={"start": In(str)},',
        "    out=Out(str),",
        "    retry_policy=RetryPolicy(max_retries=2, delay=7.5),",
        ")",
        "def op_a(",
      ].join("\n"),
    );
    expect(out).toContain('@op(ins={"a": In(str)}, out=Out(str), retry_policy=RetryPolicy(max_retries=1))');
    expect(text).toContain("    retry_policy=RetryPolicy(max_retries=5, delay=120),\n)\ndef op_c(");
    expect(text).toContain('@op(ins={"c": In(str)}, out=Out(str))\ndef op_end(');
    expect(text).toContain('"""Metaflow step a of TestFlow (@retry)."""');
    const flow = text;
    expect(flow).toContain('"a": StepInfo("a", user_retries=2),');
    expect(flow).toContain('"b": StepInfo("b", error_retries=1),');
    expect(flow).toContain('"c": StepInfo("c", user_retries=3, error_retries=4),');
    expect(flow).toContain('"end": StepInfo("end"),');
  });

  it("bakes split, foreach-join, --with and @environment facts into FLOW", () => {
    const ir = FOREACH_IN_BRANCH();
    stepOf(ir, "plain").withSpecs = ["sandbox", "resources:cpu=2"];
    stepOf(ir, "plain").environment = { ZED: "last", ALPHA: "first" };
    valued(ir);
    const flow = lines(compile(ir, RUNTIME)).join("\n");
    expect(flow).toContain('"measure": StepInfo("measure", split=True),');
    expect(flow).toContain('"more": StepInfo("more"),');
    expect(flow).toContain('"fan_join": StepInfo("fan_join", foreach_join=True),');
    expect(flow).toContain(
      [
        '        "plain": StepInfo(',
        '            "plain",',
        '            with_specs=("sandbox", "resources:cpu=2"),',
        '            env={"ALPHA": "first", "ZED": "last"},',
        "        ),",
      ].join("\n"),
    );
  });

  it("bakes deploy settings into FLOW verbatim", () => {
    const ir = linearIR([], {
      deploy: {
        topLevelArgs: ["--quiet", "--datastore=s3"],
        datastore: "s3",
        datastoreRoot: "s3://bucket/mf",
        metadata: "service",
        tags: ["team:x", 'quote"d'],
        namespace: "prod",
        owner: null,
      },
    });
    const flow = lines(compile(ir, RUNTIME)).join("\n");
    expect(flow).toContain('    top_level_args=("--quiet", "--datastore=s3"),\n');
    expect(flow).toContain('    datastore="s3",\n    datastore_root="s3://bucket/mf",\n    metadata="service",\n');
    expect(flow).toContain(`    tags=("team:x", 'quote"d'),\n    namespace="prod",\n    owner=None,\n`);
    expect(flow).toContain('    file="test_flow.py",\n    anchor=__file__,\n');
  });
});

describe("emitted ops for switches, loops and nested foreaches", () => {
  const SWITCH_AFTER_START = (): FlowIR =>
    flowIR({
      start: ["pick"],
      pick: { next: ["a", "b", "end"], switch: "which" },
      a: ["end"],
      b: ["end"],
      end: [],
    });
  // Two foreach levels; in the inner body a switch, its convergence and a loop; at the
  // top level, another loop.
  const NESTED_SHAPES = (): FlowIR =>
    flowIR({
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["classify"], foreach: "ys" },
      classify: { next: ["a", "b"], switch: "k" },
      a: ["converge"],
      b: ["converge"],
      converge: ["spin"],
      spin: { next: ["spin", "inner_join"], switch: "s" },
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: ["grow"], join: true },
      grow: { next: ["grow", "end"], switch: "g" },
      end: [],
    });

  it("gives a top-level switch optional outputs, and a fan-in and the guard to the end op", () => {
    const source = generated(compile(SWITCH_AFTER_START(), RUNTIME));
    expect(source).toContain(
      [
        "@op(",
        '    ins={"start": In(str)},',
        "    out={",
        '        "a": Out(str, is_required=False),',
        '        "b": Out(str, is_required=False),',
        '        "end": Out(str, is_required=False),',
        "    },",
        ")",
        "def op_pick(context: OpExecutionContext, start: str) -> Iterator[Output[str]]:",
        '    """Metaflow step pick of TestFlow (switch on which)."""',
        '    yield from run_switch(context, FLOW, "pick", [start])',
      ].join("\n"),
    );
    // The start op also emits the guard output; the end op reads it in its one fan-in.
    expect(source).toContain(
      [
        '@op(out={"result": Out(str), "started": Out(str)})',
        "def op_start(context: OpExecutionContext) -> Iterator[Output[str]]:",
        '    """Metaflow step start of TestFlow."""',
        '    yield from run_start(context, FLOW, "start")',
      ].join("\n"),
    );
    expect(source).toContain(
      [
        '@op(ins={"inputs": In(list[str])}, out=Out(str))',
        "def op_end(context: OpExecutionContext, inputs: list[str]) -> str:",
        '    """Metaflow step end of TestFlow."""',
        '    return run_step(context, FLOW, "end", inputs, guard=True)',
      ].join("\n"),
    );
    expect(source).toContain('        "pick": StepInfo("pick", branches={"a": "a", "b": "b", "end": "end"}),\n');
    expect(jobBody(compile(SWITCH_AFTER_START(), RUNTIME)).slice(1)).toEqual([
      "    start = op_start()",
      "    pick = op_pick(start.result)",
      "    a = op_a(pick.a)",
      "    b = op_b(pick.b)",
      "    op_end([a, b, pick.end, start.started])",
    ]);
  });

  it("gives a switch in a foreach body required outputs, and its convergence named inputs", () => {
    const source = generated(compile(NESTED_SHAPES(), RUNTIME));
    expect(source).toContain(
      [
        '@op(ins={"outer": In(str)}, out={"a": Out(str), "b": Out(str)})',
        "def op_classify(context: OpExecutionContext, outer: str) -> Iterator[Output[str]]:",
        '    """Metaflow step classify of TestFlow (switch on k)."""',
        '    yield from run_switch(context, FLOW, "classify", [outer])',
      ].join("\n"),
    );
    expect(source).toContain(
      [
        '@op(ins={"a": In(str), "b": In(str)}, out=Out(str))',
        "def op_converge(context: OpExecutionContext, a: str, b: str) -> str:",
        '    """Metaflow step converge of TestFlow."""',
        '    return run_step(context, FLOW, "converge", [a, b])',
      ].join("\n"),
    );
    // `mapped` tells the runtime to yield every branch (untaken ones NOT_TAKEN).
    expect(source).toContain(
      [
        '        "classify": StepInfo(',
        '            "classify",',
        "            split=True,",
        '            branches={"a": "a", "b": "b"},',
        "            mapped=True,",
        "        ),",
      ].join("\n"),
    );
  });

  it("runs a loop in one op with one output: required in a foreach body, optional at the top", () => {
    const source = generated(compile(NESTED_SHAPES(), RUNTIME));
    expect(source).toContain(
      [
        '@op(ins={"converge": In(str)}, out=Out(str))',
        "def op_spin(context: OpExecutionContext, converge: str) -> Iterator[Output[str]]:",
        '    """Metaflow step spin of TestFlow (loops on s)."""',
        '    yield from run_switch(context, FLOW, "spin", [converge])',
      ].join("\n"),
    );
    expect(source).toContain(
      [
        '@op(ins={"outer_join": In(str)}, out=Out(str, is_required=False))',
        "def op_grow(context: OpExecutionContext, outer_join: str) -> Iterator[Output[str]]:",
        '    """Metaflow step grow of TestFlow (loops on g)."""',
        '    yield from run_switch(context, FLOW, "grow", [outer_join])',
      ].join("\n"),
    );
    expect(source).toContain(
      [
        '        "spin": StepInfo(',
        '            "spin",',
        '            branches={"inner_join": "result"},',
        "            loop=True,",
        "            mapped=True,",
        "        ),",
      ].join("\n"),
    );
    expect(source).toContain('        "grow": StepInfo("grow", branches={"end": "result"}, loop=True),\n');
    // A foreach start emits the guard output besides its splits.
    expect(source).toContain(
      [
        '@op(out={"result": DynamicOut(str), "started": Out(str)})',
        "def op_start(context: OpExecutionContext) -> Iterator[DynamicOutput[str] | Output[str]]:",
        '    """Metaflow step start of TestFlow (foreach over xs)."""',
        '    yield from fan_out(context, FLOW, "start", emit_guard=True)',
      ].join("\n"),
    );
    expect(source).toContain('    return run_step(context, FLOW, "end", inputs, guard=True)\n');
  });

  it("re-splits a nested foreach and regroups its join's inputs with helper ops", () => {
    const source = generated(compile(NESTED_SHAPES(), RUNTIME));
    expect(source).toContain(
      [
        '@op(ins={"start": In(str)}, out=Out(str))',
        "def op_outer(context: OpExecutionContext, start: str) -> str:",
        '    """Metaflow step outer of TestFlow (foreach over ys)."""',
        '    return run_step(context, FLOW, "outer", [start])',
      ].join("\n"),
    );
    expect(source).toContain(
      [
        '@op(ins={"outer": In(list[str])}, out=DynamicOut(str))',
        "def op_outer_splits(",
        "    context: OpExecutionContext,",
        "    outer: list[str],",
        ") -> Iterator[DynamicOutput[str]]:",
        '    """Splits of the nested foreach outer of TestFlow, one per (outer, inner) index."""',
        '    yield from split_again(context, FLOW, "outer", outer)',
      ].join("\n"),
    );
    expect(source).toContain(
      [
        '@op(ins={"inputs": In(list[str])}, out=Out(str))',
        "def op_inner_join(context: OpExecutionContext, inputs: list[str]) -> str:",
        '    """Metaflow step inner_join of TestFlow (joins spin)."""',
        '    return run_step(context, FLOW, "inner_join", inputs)',
      ].join("\n"),
    );
    expect(source).toContain(
      [
        '@op(ins={"spin": In(list[str])}, out=DynamicOut(list[str]))',
        "def op_inner_join_inputs(",
        "    context: OpExecutionContext,",
        "    spin: list[str],",
        ") -> Iterator[DynamicOutput[list[str]]]:",
        '    """Inputs of step inner_join of TestFlow, grouped per foreach split."""',
        '    yield from regroup(context, FLOW, "inner_join", [spin])',
      ].join("\n"),
    );
    expect(source).toContain('        "outer": StepInfo("outer", split=True),\n');
    expect(source).toContain('        "inner_join": StepInfo("inner_join", foreach_join=True),\n');
    expect(source).toContain('        "outer_join": StepInfo("outer_join", foreach_join=True),\n');
    // Helper ops are no steps: FLOW lists the steps only.
    expect(source).not.toContain('StepInfo("outer_splits"');
    expect(jobBody(compile(NESTED_SHAPES(), RUNTIME)).slice(1)).toEqual([
      "    start = op_start()",
      "    def each_start(start: str) -> str:",
      "        outer = op_outer(start)",
      "        return outer",
      "    outer_results = start.result.map(each_start)",
      "    outer_splits = op_outer_splits(outer_results.collect())",
      "    def each_outer(outer: str) -> str:",
      "        classify = op_classify(outer)",
      "        a = op_a(classify.a)",
      "        b = op_b(classify.b)",
      "        converge = op_converge(a, b)",
      "        spin = op_spin(converge)",
      "        return spin",
      "    inner_join_inputs = op_inner_join_inputs(outer_splits.map(each_outer).collect())",
      "    def each_inner_join(inputs: list[str]) -> str:",
      "        inner_join = op_inner_join(inputs)",
      "        return inner_join",
      "    outer_join = op_outer_join(inner_join_inputs.map(each_inner_join).collect())",
      "    grow = op_grow(outer_join)",
      "    op_end([grow, start.started])",
    ]);
  });

  it("returns every value leaving a mapped function, typed as a tuple", () => {
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
    const body = jobBody(compile(ir, RUNTIME));
    expect(body).toContain("    def each_start(start: str) -> tuple[str, str]:");
    expect(body).toContain("        return fan, side");
    expect(body).toContain("    fan_results, side_results = start.map(each_start)");
    expect(body).toContain("    def each_both(inputs: list[str]) -> str:");
  });
});

describe("emitted Config", () => {
  const params = [
    param("config-blob", { attribute: "config_blob", type: "json", default: { a: [1, null] } }),
    param("class", { attribute: "klass", default: "k", help: 'A "keyword" name' }),
    param("who", { required: true, hasDefault: false, default: null, help: "Required." }),
    param("maybe", { type: "int", hasDefault: false, default: null }),
    param("blob", { type: "json", hasDefault: false, default: null }),
    param("ratio", { type: "float", default: 1 }),
    param("flag", { type: "bool", required: true, default: true }),
  ];

  it("has one typed field per parameter; non-identifiers and keywords get aliases", () => {
    const source = compile(valued(linearIR([], { parameters: params })), RUNTIME);
    const out = lines(source);
    const at = out.indexOf("class StartConfig(Config):");
    expect(at).toBeGreaterThan(0);
    // A JSON field's help says what a string in it means (a parameter's own help first).
    const jsonHelp = (name: string): string =>
      `        description="JSON: a value (a mapping, a list, a number...) or a string of JSON text, ` +
      `as \`--${name}\` takes it ('{\\"a\\": 1}'; '\\"text\\"' for a string).",`;
    expect(out.slice(at, at + 18)).toEqual([
      "class StartConfig(Config):",
      '    """Parameters of the Metaflow flow TestFlow."""',
      "",
      "    config_blob: Any = Field(",
      '        default={"a": [1, None]},',
      '        alias="config-blob",',
      jsonHelp("config-blob"),
      "    )",
      `    klass: str = Field(default="k", alias="class", description='A "keyword" name')`,
      '    who: str = Field(description="Required.")',
      "    maybe: int | None = Field(default=None)",
      "    blob: Any = Field(",
      "        default=None,",
      jsonHelp("blob"),
      "    )",
      "    ratio: float = Field(default=1.0)",
      "    flag: bool = Field(default=True)",
      "",
    ]);
    expect(out).toContain("def op_start(context: OpExecutionContext, config: StartConfig) -> str:");
    expect(out).toContain('    return run_step(context, FLOW, "start", params=config.model_dump(by_alias=True))');
    expect(generated(source)).toContain(
      '    parameters={\n        "config-blob": "json",\n        "class": "str",\n',
    );
  });

  it("types an IncludeFile as text: a stored file's descriptor, or a path", () => {
    const descriptor = '{"type": "uploader-v2", "url": "local:///d/Flow/abc"}';
    const ir = linearIR([], { parameters: [param("table", { type: "file", default: descriptor })] });
    const source = compile(ir, RUNTIME);
    // (The printer quotes with ' when the text holds ", as ruff's formatter does.)
    expect(lines(source)).toContain(`    table: str = Field(default='${descriptor}')`);
    expect(generated(source)).toContain('    parameters={"table": "file"},\n');
  });

  it("writes a required parameter without a default as a bare Field()", () => {
    const ir = linearIR([], { parameters: [param("who", { required: true, hasDefault: false, default: null })] });
    expect(lines(compile(ir, RUNTIME))).toContain("    who: str = Field()");
  });
});

describe("emitted job", () => {
  it("assigns only the outputs a later op reads", () => {
    const body = jobBody(compile(valued(FOREACH_IN_BRANCH()), RUNTIME));
    expect(body).toEqual([
      '    """Metaflow flow TestFlow, one op per step."""',
      "    start = op_start()",
      "    fan = op_fan(start)",
      "    def each_fan(fan: str) -> str:",
      "        measure = op_measure(fan)",
      "        more = op_more(measure)",
      "        return more",
      "    fan_join = op_fan_join(fan.map(each_fan).collect())",
      "    plain = op_plain(start)",
      "    join = op_join(fan_join, plain)",
      "    op_end(join)",
    ]);
    const ir = linearIR(["a"]);
    expect(jobBody(compile(ir, RUNTIME)).slice(1)).toEqual(["    start = op_start()", "    a = op_a(start)", "    op_end(a)"]);
  });

  it("names the job object after the flow class and the Dagster job after --name", () => {
    const ir = linearIR([], { name: "MyFlow", deploy: { jobName: "nightly_v2", description: "Nightly." } });
    const out = lines(compile(ir, RUNTIME)).join("\n");
    expect(out).toContain(
      [
        "@job(",
        '    name="nightly_v2",',
        '    description="Nightly.",',
        '    tags={"metaflow/flow": "MyFlow"},',
        "    executor_def=thread_executor(FLOW, max_concurrent=16),",
        '    resource_defs={"io_manager": event_log_io_manager},',
        ")",
        "def MyFlow() -> None:",
      ].join("\n"),
    );
    // `--executor multiprocess`: op processes fork from a server that preloads modules.
    const mp = linearIR([], { name: "MyFlow", deploy: { executor: { kind: "multiprocess", maxWorkers: 4, fastLaunch: true } } });
    expect(lines(compile(mp, RUNTIME)).join("\n")).toContain(
      [
        "    executor_def=multiprocess_executor.configured(",
        "        {",
        '            "max_concurrent": 4,',
        '            "start_method": {',
        '                "forkserver": {"preload_modules": list(FORKSERVER_PRELOAD)},',
        "            },",
        "        },",
        "    ),",
      ].join("\n"),
    );
    expect(out.endsWith("defs = Definitions(jobs=[MyFlow], assets=flow_assets(FLOW))\n")).toBe(true);
    // Without a flow docstring the job has no description.
    expect(lines(compile(linearIR(), RUNTIME)).join("\n")).toContain(
      ["@job(", '    name="TestFlow",', '    tags={"metaflow/flow": "TestFlow"},', "    executor_def="].join("\n"),
    );
  });

  it("heads the module with the flow, the generator and the command that regenerates it", () => {
    const ir = linearIR([], {
      flow: { file: "../flows/my_flow.py" },
      deploy: { regenerate: ["python", "my flow.py", "--tag", 'say "hi"', "dagster", "create", "out.py"] },
    });
    const source = compile(ir, RUNTIME);
    expect(source.split("\n").slice(0, 5)).toEqual([
      '"""Dagster job for the Metaflow flow TestFlow (my_flow.py).',
      "",
      "Generated by metaflow-dagster 0.0.0-test. Do not edit: regenerate with",
      "    python 'my flow.py' --tag 'say 'hi'' dagster create out.py",
      '"""',
    ]);
    expect(source).toContain("# ---- runtime: metaflow_dagster/runtime 0.0.0-test, copied verbatim; do not edit ----");
  });

  it("embeds the runtime parts it needs verbatim", () => {
    const source = compile(linearIR(), RUNTIME);
    const body = planModule(linearIR(), RUNTIME).runtime.parts.map((p) => p.body).join("\n\n");
    expect(source).toContain(`\n\n${body}\n\n# ---- end of runtime ----\n`);
  });

  it("never lets the flow class shadow a name the generated module imports", () => {
    // BUG: compile.ts reserves the runtime's names but not the generated code's own
    // imports (Definitions, In, Out, job, op, ...). A flow class called `Definitions`
    // compiles to `defs = Definitions(jobs=[Definitions])`, which calls the job.
    for (const name of ["Definitions", "FlowInfo", "OpExecutionContext"]) {
      let source: string | null = null;
      try {
        source = compile(linearIR([], { name }), RUNTIME);
      } catch (error) {
        expect(error, name).toBeInstanceOf(CompileError);
      }
      if (source !== null) expect(importedNames(source).has(name), name).toBe(false);
    }
  });

  it("renames its own Config class rather than refuse a flow class called StartConfig", () => {
    // BUG: planJob reserves the Config class name before the flow class name, so the
    // flow class (which must keep its name) is refused instead of the generated class
    // moving aside.
    const ir = linearIR([], { name: "StartConfig", parameters: [param("x")] });
    const source = compile(ir, RUNTIME);
    expect(source).toContain("class StartConfig_(Config):");
    expect(source).toContain("def StartConfig() -> None:");
  });
});

// ---------------------------------------------------------------------------------------
// Batch: synthetic flows through real Python (byte-compile, import with Dagster, read the
// job's wiring back) and ruff, one process each. Dagster checks the wiring when the job
// is defined: an illegal fan-in under a dynamic output, a map function returning
// something else than op outputs, or a missing input all raise at import.

interface Case {
  label: string;
  ir: FlowIR;
  /** Names long enough to need lines wrapped that the emitter writes as raw text. */
  longLines?: true;
  /** A shape the compiler gets wrong today (see the BUG notes at `bugCases`). */
  bug?: "dagster" | "format";
}

function cases(): Case[] {
  const retried = linearIR(["a", "b"], {
    name: "RetriedFlow",
    deploy: {
      description: 'Quotes " and \\ backslashes,\nnewlines and n\u00f6n-ASCII \u2603.',
      tags: ["a:b"],
      namespace: "user:x",
      datastoreRoot: "/tmp/x y",
    },
    flow: { doc: "doc" },
  });
  stepOf(retried, "a").retries = { user: 2, error: 1 };
  stepOf(retried, "a").decorators = [deco("retry", { times: 2, minutes_between_retries: 0.5 })];
  stepOf(retried, "b").withSpecs = ["sandbox"];
  stepOf(retried, "b").environment = { K: "v with 'quotes'" };

  const params = linearIR([], {
    name: "ParamsFlow",
    parameters: [
      param("config-blob", { attribute: "config_blob", type: "json", default: { a: [1, null] } }),
      param("class", { attribute: "klass", help: "x".repeat(120) }),
      param("who", { required: true, hasDefault: false, default: null }),
      param("maybe", { type: "int", hasDefault: false, default: null }),
      param("ratio", { type: "float", default: 3 }),
      param("json", { attribute: "json", type: "json", default: [1, 2] }),
      param("_private", { attribute: "_private" }),
      param("model_x", { attribute: "model_x", type: "bool", default: false }),
    ],
  });

  const nested = flowIR(
    {
      start: ["left", "right"],
      left: ["left_a", "left_b"],
      left_a: ["left_join"],
      left_b: ["left_join"],
      left_join: { next: ["join"], join: true },
      right: { next: ["body"], foreach: "xs" },
      body: ["split_in_body"],
      split_in_body: ["p", "q"],
      p: ["pq_join"],
      q: ["pq_join"],
      pq_join: ["right_join"],
      right_join: { next: ["join"], join: true },
      join: { next: ["after"], join: true },
      after: { next: ["second_body"], foreach: "ys" },
      second_body: ["second_join"],
      second_join: { next: ["end"], join: true },
      end: [],
    },
    { name: "NestedFlow" },
  );

  const clashing = ["run_step", "json", "FLOW", "context", "config", "defs", "op_start", "each_fan", "In", "op", "job", "Definitions", "str"];
  const clashes = flowIR(
    {
      start: ["fan", ...clashing],
      fan: { next: ["measure"], foreach: "xs" },
      measure: ["fan_join"],
      fan_join: { next: ["join"], join: true },
      ...Object.fromEntries(clashing.map((n) => [n, ["join"]])),
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "ClashFlow", parameters: [param("p")] },
  );

  const wide = ["b00", "b01", "b02", "b03", "b04", "b05", "b06", "b07", "b08", "b09", "b10", "b11"];
  const wideSplit = flowIR(
    {
      start: wide,
      ...Object.fromEntries(wide.map((n) => [n, ["join"]])),
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "WideFlow" },
  );
  const signature = "join_with_a_long_name_for_sig";
  const longSignature = flowIR(
    {
      start: ["branch_with_a_long_name_one", "branch_with_a_long_name_two"],
      branch_with_a_long_name_one: [signature],
      branch_with_a_long_name_two: [signature],
      [signature]: { next: ["end"], join: true },
      end: [],
    },
    { name: "LongSignatureFlow" },
  );

  // Flows whose lines the emitter could not wrap once (see the test at the end).
  const fetches = ["fetch_customers", "fetch_orders", "fetch_products", "fetch_invoices", "fetch_returns", "fetch_reviews"];
  const wideJoin = flowIR(
    {
      start: fetches,
      ...Object.fromEntries(fetches.map((n) => [n, ["join"]])),
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "WideJoinFlow" },
  );
  const fanout = "preprocess_customer_segments_fanout";
  const longForeach = flowIR(
    {
      start: [fanout],
      [fanout]: { next: ["body"], foreach: "items" },
      body: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "LongForeachFlow" },
  );
  const long = "a_rather_long_step_name_that_pushes_lines_past_it";
  const longNames = flowIR(
    {
      start: [long, "short"],
      [long]: ["join"],
      short: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "LongNamesFlow" },
  );
  return [
    { label: "retried", ir: retried },
    { label: "params", ir: params },
    { label: "nested", ir: nested },
    { label: "wide", ir: wideSplit },
    { label: "long_signature", ir: longSignature },
    { label: "clashes", ir: clashes, longLines: true },
    { label: "wide_join", ir: wideJoin, longLines: true },
    { label: "long_foreach", ir: longForeach, longLines: true },
    { label: "long_names", ir: longNames, longLines: true },
    ...shapeCases(),
    ...bugCases(),
  ];
}

/** Nested foreaches, switches and loops: every wiring the planner has for them. */
function shapeCases(): Case[] {
  const nestedForeach = flowIR(
    {
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["inner"], foreach: "ys" },
      inner: ["inner_a", "inner_b"],
      inner_a: ["inner_ab"],
      inner_b: ["inner_ab"],
      inner_ab: { next: ["inner_join"], join: true },
      inner_join: { next: ["after_inner"], join: true },
      after_inner: ["outer_join"],
      outer_join: { next: ["end"], join: true },
      end: [],
    },
    { name: "NestedForeachFlow", parameters: [param("n", { type: "int", default: 2 })] },
  );
  const triple = flowIR(
    {
      start: { next: ["level1"], foreach: "a" },
      level1: { next: ["level2"], foreach: "b" },
      level2: { next: ["level3"], foreach: "c" },
      level3: ["join3"],
      join3: { next: ["join2"], join: true },
      join2: { next: ["join1"], join: true },
      join1: { next: ["end"], join: true },
      end: [],
    },
    { name: "TripleForeachFlow" },
  );
  const crossSegments = flowIR(
    {
      start: { next: ["outer"], foreach: "xs" },
      outer: ["fan", "side"],
      fan: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["both"], join: true },
      side: ["both"],
      both: { next: ["after_both"], join: true },
      after_both: ["outer_join"],
      outer_join: { next: ["end"], join: true },
      end: [],
    },
    { name: "CrossSegmentsFlow" },
  );
  const switchTop = flowIR(
    {
      start: { next: ["big", "count", "merge"], switch: "route" },
      big: ["big_more"],
      big_more: ["merge"],
      count: ["merge"],
      merge: ["end"],
      end: [],
    },
    { name: "SwitchFlow", parameters: [param("kind")] },
  );
  const switchGuard = flowIR(
    {
      start: ["pick"],
      pick: { next: ["a", "b"], switch: "which" },
      a: ["end"],
      b: ["end"],
      end: [],
    },
    { name: "SwitchGuardFlow" },
  );
  const nestedSwitch = flowIR(
    {
      start: ["left", "right"],
      left: { next: ["deep", "shallow"], switch: "inner" },
      deep: { next: ["square"], foreach: "xs" },
      square: ["deep_join"],
      deep_join: { next: ["left_done"], join: true },
      shallow: ["left_done"],
      left_done: ["join"],
      right: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "NestedSwitchFlow" },
  );
  const switchInForeach = flowIR(
    {
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["halve", "triple", "converge"], switch: "parity" },
      halve: ["converge"],
      triple: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "SwitchInForeachFlow" },
  );
  const switchToJoin = flowIR(
    {
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["halve", "triple"], switch: "parity" },
      halve: ["join"],
      triple: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "SwitchToJoinFlow" },
  );
  const switchNestedForeach = flowIR(
    {
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["fan", "plain"], switch: "kind" },
      fan: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["converge"], join: true },
      plain: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "SwitchNestedForeachFlow" },
  );
  const switchInNested = flowIR(
    {
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["pick"], foreach: "ys" },
      pick: { next: ["a", "b"], switch: "which" },
      a: ["converge"],
      b: ["converge"],
      converge: ["inner_join"],
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: ["end"], join: true },
      end: [],
    },
    { name: "SwitchInNestedFlow" },
  );
  const loopTop = flowIR({ start: ["grow"], grow: { next: ["grow", "end"], switch: "state" }, end: [] }, { name: "LoopFlow" });
  const loopExits = flowIR(
    {
      start: ["grow"],
      grow: { next: ["grow", "left", "right"], switch: "state" },
      left: ["merge"],
      right: ["merge"],
      merge: ["end"],
      end: [],
    },
    { name: "LoopExitsFlow" },
  );
  const loopInForeach = flowIR(
    {
      start: { next: ["prepare"], foreach: "xs" },
      prepare: ["spin"],
      spin: { next: ["spin", "done"], switch: "state" },
      done: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "LoopInForeachFlow" },
  );
  const loopInNested = flowIR(
    {
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["spin"], foreach: "ys" },
      spin: { next: ["spin", "done"], switch: "state" },
      done: ["inner_join"],
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: ["end"], join: true },
      end: [],
    },
    { name: "LoopInNestedFlow" },
  );
  const foreachUnderSplit = flowIR(
    {
      start: { next: ["fan"], foreach: "xs" },
      fan: ["a", "b"],
      a: { next: ["a_body"], foreach: "ys" },
      a_body: ["a_join"],
      a_join: { next: ["inner"], join: true },
      b: ["inner"],
      inner: { next: ["outer"], join: true },
      outer: { next: ["end"], join: true },
      end: [],
    },
    { name: "ForeachUnderSplitFlow" },
  );
  // Dagster accepts this one; see wiring.test.ts for why it would not run the join.
  const switchToSplitJoin = flowIR(
    {
      start: ["left", "right"],
      left: { next: ["a", "b"], switch: "which" },
      a: ["a_more"],
      a_more: ["join"],
      b: ["join"],
      right: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "SwitchToSplitJoinFlow" },
  );
  // Steps named like the helpers of a nested foreach.
  const tail = ["outer_splits", "inner_join_inputs", "each_outer", "outer_results", "each_inner_join", "inputs"];
  const helperNames = flowIR(
    {
      start: { next: ["outer"], foreach: "xs" },
      outer: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["outer_join"], join: true },
      outer_join: { next: [tail[0] ?? ""], join: true },
      ...Object.fromEntries(tail.map((n, i) => [n, [tail[i + 1] ?? "end"]])),
      end: [],
    },
    { name: "HelperNamesFlow" },
  );
  // A step named like the end op's guard input, feeding the guarded end op.
  const guardStarted = flowIR(
    {
      start: ["pick"],
      pick: { next: ["a", "b"], switch: "which" },
      a: ["started"],
      b: ["started"],
      started: ["end"],
      end: [],
    },
    { name: "GuardStartedFlow" },
  );
  return [
    { label: "nested_foreach", ir: nestedForeach },
    { label: "triple_foreach", ir: triple },
    { label: "cross_segments", ir: crossSegments },
    { label: "foreach_under_split", ir: foreachUnderSplit },
    { label: "switch_top", ir: switchTop },
    { label: "switch_to_split_join", ir: switchToSplitJoin },
    { label: "switch_guard", ir: switchGuard },
    { label: "nested_switch", ir: nestedSwitch },
    { label: "switch_in_foreach", ir: switchInForeach },
    { label: "switch_to_join", ir: switchToJoin },
    { label: "switch_nested_foreach", ir: switchNestedForeach },
    { label: "switch_in_nested", ir: switchInNested },
    { label: "loop_top", ir: loopTop },
    { label: "loop_exits", ir: loopExits },
    { label: "loop_in_foreach", ir: loopInForeach },
    { label: "loop_in_nested", ir: loopInNested },
    { label: "helper_names", ir: helperNames },
    { label: "guard_named_started", ir: guardStarted },
  ];
}

// BUG: shapes the compiler turns into modules Python or Dagster refuse.
//  - switch_jump_segments (src/plan/wiring.ts): a switch in a foreach body whose case
//    jumps to a step that also reads a nested foreach's join; the mapped function
//    returns the switch's outputs tuple, and Dagster raises "Could not handle output
//    from map function" when the job is defined.
//  - long_exits (src/emit/render/job.ts, renderNodes): a mapped function with several
//    exits writes `return a, b, c` and `a_results, b_results, c_results = x.map(f)` as
//    raw lines; with step names of ~25 characters ruff format wraps them (it
//    parenthesizes the returned tuple, and the assignment's targets rather than its
//    right-hand side), so the module fails `ruff format --check`.
function bugCases(): Case[] {
  const jumpSegments = flowIR(
    {
      start: { next: ["classify"], foreach: "xs" },
      classify: { next: ["fan", "plain", "converge"], switch: "kind" },
      fan: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["converge"], join: true },
      plain: ["converge"],
      converge: ["join"],
      join: { next: ["end"], join: true },
      end: [],
    },
    { name: "SwitchJumpSegmentsFlow" },
  );
  // The outer body has three exits: a nested foreach and two plain branches, all
  // read by `both` (regrouped per outer split).
  const fan = "fan_out_with_a_long_name_here";
  const sides = ["side_branch_with_long_name", "another_side_branch_long"];
  const longExits = flowIR(
    {
      start: { next: ["outer"], foreach: "xs" },
      outer: [fan, ...sides],
      [fan]: { next: ["inner"], foreach: "ys" },
      inner: ["inner_join"],
      inner_join: { next: ["both"], join: true },
      ...Object.fromEntries(sides.map((n) => [n, ["both"]])),
      both: { next: ["outer_join"], join: true },
      outer_join: { next: ["end"], join: true },
      end: [],
    },
    { name: "LongExitsFlow" },
  );
  return [
    { label: "switch_jump_segments", ir: jumpSegments, bug: "dagster" },
    { label: "long_exits", ir: longExits, bug: "format" },
  ];
}

const Dependency = z.tuple([z.string(), z.array(z.tuple([z.string(), z.string()]))]);
const Loaded = z.object({
  error: z.string().nullable(),
  job: z.string(),
  defsJobs: z.array(z.string()),
  ops: z.record(
    z.string(),
    z.object({
      // Input name -> [dependency class, [[upstream op, its output]...]], as wired.
      deps: z.record(z.string(), Dependency),
      // Inputs the op declares.
      ins: z.array(z.string()),
      // Output name -> [dynamic, required].
      outs: z.record(z.string(), z.tuple([z.boolean(), z.boolean()])),
      // Runs once per mapping key of a dynamic output.
      mapped: z.boolean(),
    }),
  ),
  config: z.record(z.string(), z.boolean()).nullable(),
});

const LOAD = String.raw`
import importlib.util, json, sys, traceback
results = []
for i, (path, attr) in enumerate(json.load(sys.stdin)):
    out = {"error": None, "job": "", "defsJobs": [], "ops": {}, "config": None}
    try:
        with open(path, encoding="utf-8") as f:
            compile(f.read(), path, "exec", dont_inherit=True)
        spec = importlib.util.spec_from_file_location(f"golden_case_{i}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        job = getattr(module, attr)
        out["job"] = job.name
        out["defsJobs"] = [j.name for j in module.defs.jobs]
        structure = job.graph.dependency_structure
        for node in job.graph.nodes:
            d = node.definition
            out["ops"][node.name] = {
                "deps": {},
                "ins": [i.name for i in d.input_defs],
                "outs": {o.name: [o.is_dynamic, o.is_required] for o in d.output_defs},
                "mapped": structure.is_dynamic_mapped(node.name),
            }
            fields = getattr(d.config_schema.config_type, "fields", None)
            if node.name == "op_start" and fields is not None:
                out["config"] = {k: v.is_required for k, v in fields.items()}
        for inv, deps in job.dependencies.items():
            for name, dep in deps.items():
                ups = [[u.node, u.output] for u in dep.get_node_dependencies()]
                out["ops"][inv.name]["deps"][name] = [type(dep).__name__, ups]
    except Exception:
        out["error"] = traceback.format_exc()
    results.append(out)
json.dump(results, sys.stdout)
`;

function ruffExecutable(): string {
  const fromEnv = process.env["RUFF"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return join(REPO_ROOT, ".venv", "bin", "ruff");
}

/** Foreaches open at a step (it runs once per split of each): from the IR alone. */
function openForeaches(ir: FlowIR, step: StepIR): string[] {
  return step.splitParents.filter((name) => {
    const parent = stepOf(ir, name);
    return parent.type === "foreach" && parent.numParallel === 0 && parent.matchingJoin !== step.name;
  });
}

/** The end op also reads the start op's guard output when the flow has a switch. */
function expectsGuard(ir: FlowIR, step: StepIR): boolean {
  return (
    step.name === ir.flow.endStep &&
    ir.flow.startStep !== step.name &&
    ir.steps.some((s) => s.type === "split-switch")
  );
}

describe("emitted modules through Python, Dagster and ruff", () => {
  const dir = mkdtempSync(join(tmpdir(), "mfdagster-emit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const all = cases();
  const paths = all.map((c) => join(dir, `${c.label}.py`));
  let loaded: z.infer<typeof Loaded>[] = [];

  beforeAll(() => {
    all.forEach((c, i) => writeFileSync(paths[i] ?? "", compile(c.ir, RUNTIME), "utf-8"));
    const result = runProcess(
      pythonExecutable(),
      ["-c", LOAD],
      JSON.stringify(all.map((c, i) => [paths[i], c.ir.flow.name])),
    );
    if (result.status !== 0) throw new Error(`python failed:\n${result.stderr}`);
    loaded = z.array(Loaded).parse(JSON.parse(result.stdout));
    // One Python process imports Dagster and every module: allow it the time.
  }, 120_000);

  it("cover every kind of op and every runtime entry point", () => {
    const kinds = new Set(all.flatMap((c) => planModule(c.ir, RUNTIME).ops.map((o) => o.kind)));
    expect([...kinds].sort()).toEqual(["foreach", "regroup", "splits", "step", "switch"]);
    const sources = paths.map((p) => generated(readFileSync(p, "utf-8"))).join("\n");
    for (const entry of ["run_step", "fan_out", "run_switch", "split_again", "regroup"]) {
      expect(sources, entry).toMatch(new RegExp(`(return|yield from) ${entry}\\(`));
    }
  });

  it.each(all.map((c, i) => [c.label, i] as const))("%s imports, and Dagster wires it like the flow", (_label, i) => {
    const c = all[i];
    const got = loaded[i];
    if (c === undefined || got === undefined) throw new Error("missing case");
    expect(got.error).toBeNull();
    const plan = planModule(c.ir, RUNTIME);
    expect(got.job).toBe(plan.job.name);
    expect(got.defsJobs).toEqual([plan.job.name]);
    const opByFn = new Map(plan.ops.map((o) => [o.fn, o]));
    expect(Object.keys(got.ops).sort()).toEqual([...opByFn.keys()].sort());

    // Each op as planned: inputs (all wired, lists as fan-ins or collects), outputs,
    // and whether it runs once per split.
    for (const op of plan.ops) {
      const node = got.ops[op.fn];
      if (node === undefined) throw new Error(`no node ${op.fn}`);
      // (Dagster lists an op's inputs in its own order; arguments bind by parameter.)
      expect([...node.ins].sort(), op.fn).toEqual(op.inputs.map((x) => x.name).sort());
      expect(Object.keys(node.deps).sort(), op.fn).toEqual(op.inputs.map((x) => x.name).sort());
      for (const input of op.inputs) {
        const [kind, ups] = node.deps[input.name] ?? ["", []];
        const regrouped = ups.length === 1 && opByFn.get(ups[0]?.[0] ?? "")?.kind === "regroup";
        if (regrouped) {
          // One group of paths per split, from the regroup op's dynamic output.
          expect([input.list, kind], `${op.fn}.${input.name}`).toEqual([true, "DependencyDefinition"]);
        } else if (input.list) {
          expect(["MultiDependencyDefinition", "DynamicCollectDependencyDefinition"], `${op.fn}.${input.name}`).toContain(kind);
        } else {
          expect([kind, ups.length], `${op.fn}.${input.name}`).toEqual(["DependencyDefinition", 1]);
        }
      }
      const outs: Record<string, [boolean, boolean]> = {};
      if (op.kind === "switch") {
        for (const [name] of op.branches) outs[op.branches.length === 1 ? "result" : name] = [false, op.mapped];
      } else {
        outs["result"] = [op.kind !== "step", true];
      }
      if (op.emitsGuard) outs["started"] = [false, true];
      expect(node.outs, op.fn).toEqual(outs);
      const step = op.kind === "splits" || op.kind === "regroup" ? null : stepOf(c.ir, op.step);
      expect(node.mapped, op.fn).toBe(step !== null && openForeaches(c.ir, step).length > 0);
    }

    // Each step's op reads exactly its Metaflow inputs (through helper ops, if any),
    // each switch through the output of the branch that leads to it.
    const upstream = (fn: string, seen: [string, string][] = []): [string, string][] => {
      for (const [, ups] of Object.values(got.ops[fn]?.deps ?? {})) {
        for (const [up, output] of ups) {
          const producer = opByFn.get(up);
          if (producer?.kind === "splits" || producer?.kind === "regroup") upstream(up, seen);
          else seen.push([producer?.step ?? up, output]);
        }
      }
      return seen;
    };
    const startOp = plan.ops.find((o) => o.step === c.ir.flow.startStep && o.kind !== "splits");
    for (const op of plan.ops.filter((o) => o.kind !== "splits" && o.kind !== "regroup")) {
      const step = stepOf(c.ir, op.step);
      const guarded = expectsGuard(c.ir, step);
      const isGuard = ([from, output]: [string, string]): boolean => from === c.ir.flow.startStep && output === "started";
      const all = upstream(op.fn);
      // The guarded end op reads the start op's guard output once, in its one fan-in input.
      expect(all.filter(isGuard).length, step.name).toBe(guarded ? 1 : 0);
      if (guarded) expect(Object.keys(got.ops[op.fn]?.deps ?? {}), step.name).toEqual(["inputs"]);
      const reads = all.filter((r) => !isGuard(r));
      const inputs = step.name === c.ir.flow.startStep ? [] : step.inFuncs.filter((p) => p !== step.name);
      expect([...new Set(reads.map(([s]) => s))].sort(), step.name).toEqual([...new Set(inputs)].sort());
      for (const [from, output] of reads) {
        const producer = plan.ops.find((o) => o.step === from && o.kind === "switch");
        if (producer === undefined) continue;
        const branch = producer.branches.find(([, target]) => target === step.name);
        expect(branch, `${from} -> ${step.name}`).toBeDefined();
        expect(output, `${from} -> ${step.name}`).toBe(producer.branches.length === 1 ? "result" : branch?.[0]);
      }
    }
    // The start op emits the guard output exactly when the end op is guarded.
    const endGuarded = c.ir.steps.some((s) => expectsGuard(c.ir, s));
    expect("started" in (got.ops[startOp?.fn ?? ""]?.outs ?? {}), "start").toBe(endGuarded);

    // Every foreach fans out exactly once: its own op at the top level, else a helper
    // op re-splitting what its op returned.
    for (const foreach of c.ir.steps.filter((s) => s.type === "foreach" && s.numParallel === 0)) {
      const own = opByFn.get(plan.ops.find((o) => o.step === foreach.name && o.kind !== "splits")?.fn ?? "");
      const ownDynamic = got.ops[own?.fn ?? ""]?.outs["result"]?.[0] === true;
      const resplit = plan.ops.filter(
        (o) => o.kind === "splits" && upstream(o.fn).some(([s]) => s === foreach.name),
      );
      expect(Number(ownDynamic) + resplit.length, foreach.name).toBe(1);
      expect(ownDynamic, foreach.name).toBe(openForeaches(c.ir, foreach).length === 0);
    }

    if (c.ir.parameters.length === 0) {
      expect(got.config).toBeNull();
    } else {
      const required = Object.fromEntries(
        c.ir.parameters.map((p) => [p.name, p.required && !p.hasDefault]),
      );
      expect(got.config).toEqual(required);
    }
  });

  it("all are ruff-clean, and ruff-formatted", () => {
    const ruff = ruffExecutable();
    const sound = paths.filter((_p, i) => all[i]?.bug !== "dagster");
    const check = runProcess(ruff, ["check", "--isolated", "--no-cache", ...sound]);
    expect(check.status, `ruff check:\n${check.stdout}${check.stderr}`).toBe(0);
    const formattable = paths.filter((_p, i) => all[i]?.longLines !== true && all[i]?.bug === undefined);
    expect(formattable.length).toBeGreaterThan(4);
    const format = runProcess(ruff, ["format", "--isolated", "--no-cache", "--check", "--diff", ...formattable]);
    expect(format.status, `ruff format:\n${format.stdout}${format.stderr}`).toBe(0);
  });

  it("wraps long lines as ruff does: long step names, joins of many branches", () => {
    // Once a BUG (src/emit/render/job.ts, src/emit/render/ops.ts): three constructs
    // were written as raw text that nothing wrapped, so realistic names failed
    // `ruff format --check`:
    //  - the foreach helper `def each_<f>(<f>: str) -> str:` and the collect argument
    //    `<f>.map(each_<f>).collect()` (a foreach step name of ~30 characters);
    //  - a join's input list `[a, b, c, ...]` in `run_step(...)` (six ordinary branches);
    //  - `<step> = op_<step>(...)` when the target and call alone pass 88 columns
    //    (ruff wraps the right-hand side in parentheses).
    const long = paths.filter((_p, i) => all[i]?.longLines === true);
    const format = runProcess(ruffExecutable(), ["format", "--isolated", "--no-cache", "--check", "--diff", ...long]);
    expect(format.status, `ruff format:\n${format.stdout}${format.stderr}`).toBe(0);
  });

  it("wraps what a mapped function returns as ruff does (several long exits)", () => {
    // BUG: see long_exits at `bugCases`.
    const bad = paths.filter((_p, i) => all[i]?.bug === "format");
    expect(bad).toHaveLength(1);
    const format = runProcess(ruffExecutable(), ["format", "--isolated", "--no-cache", "--check", "--diff", ...bad]);
    expect(format.status, `ruff format:\n${format.stdout}${format.stderr}`).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------
// The bundled command line, as the Python package runs it.

describe("compiler command line (bundle)", () => {
  beforeAll(() => {
    // `npm run build`: the bundle must be built from the sources under test.
    const build = runProcess(process.execPath, [join(REPO_ROOT, "scripts", "build.mjs")]);
    if (build.status !== 0) throw new Error(`build failed:\n${build.stdout}${build.stderr}`);
  });

  const Reply = z.union([
    z.object({ ok: z.literal(true), source: z.string(), jobName: z.string() }).strict(),
    z.object({
      ok: z.literal(false),
      errors: z.array(
        z.object({ message: z.string(), step: z.string().optional(), decorator: z.string().optional() }).strict(),
      ),
    }),
  ]);

  function run(stdin: string, args = ["compile", "--runtime", RUNTIME_PATH]) {
    const result = runProcess(process.execPath, [BUNDLE, ...args], stdin);
    return result;
  }

  function reply(stdin: string): z.infer<typeof Reply> {
    const result = run(stdin);
    expect(result.status, result.stderr).toBe(0);
    return Reply.parse(JSON.parse(result.stdout));
  }

  it("answers ok with the same source as the library", () => {
    const ir = FOREACH_IN_BRANCH();
    const answer = reply(JSON.stringify(ir));
    expect(answer).toEqual({ ok: true, source: compile(ir, RUNTIME), jobName: "TestFlow" });
  });

  it("names the job a flow would get, for commands that look it up without its file", () => {
    for (const [flow, job] of [
      ["MyFlow", "MyFlow"],
      ["proj.user.alice.MyFlow", "proj_user_alice_MyFlow"],
    ]) {
      const result = run("", ["job-name", flow ?? ""]);
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ jobName: job });
    }
  });

  it("answers the problems, with step and decorator, as JSON", () => {
    const ir = linearIR(["train"]);
    stepOf(ir, "train").decorators = [deco("kubernetes")];
    stepOf(ir, "end").next = ["ghost"];
    const answer = reply(JSON.stringify(ir));
    expect(answer.ok).toBe(false);
    if (answer.ok) return;
    expect(answer.errors).toEqual([
      { step: "end", message: "transitions to unknown step 'ghost'" },
      { step: "train", decorator: "kubernetes", message: expect.stringMatching(/Kubernetes/) },
    ]);
  });

  it("answers malformed IR with the JSON path", () => {
    const answer = reply(JSON.stringify({ ...linearIR(), irVersion: 99 }));
    expect(answer).toEqual({ ok: false, errors: [{ message: expect.stringMatching(/^IR version 99 is not supported/) }] });
    const bad = reply(JSON.stringify({ ...linearIR(), deploy: {} }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]?.message).toMatch(/^malformed flow IR at deploy\./);
  });

  it("answers invalid JSON as an error, not a crash", () => {
    for (const text of ["{", "", "not json"]) {
      const answer = reply(text);
      expect(answer.ok, JSON.stringify(text)).toBe(false);
      if (!answer.ok) expect(answer.errors[0]?.message).toMatch(/^the flow IR is not valid JSON: /);
    }
  });

  it("exits 2 with usage on a bad command line", () => {
    for (const args of [[], ["compile"], ["build", "--runtime", RUNTIME_PATH]]) {
      const result = run("{}", args);
      expect(result.status, JSON.stringify(args)).toBe(2);
      expect(result.stderr).toMatch(/^usage: compiler compile --runtime <runtime_bundle\.json>/);
      expect(result.stdout).toBe("");
    }
  });
});
