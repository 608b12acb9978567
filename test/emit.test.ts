import { moduleNames } from "../src/compile.js";
// What the emitted module says for a given IR (ops, retries, Config, FlowInfo, job body),
// checked as text, then by real Python, Dagster and ruff in one batch; and the compiler's
// command line (the bundle the Python package runs).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { compile } from "../src/compile.js";
import type { FlowIR } from "../src/ir/index.js";
import { parseImports } from "../src/emit/imports.js";
import { splitRuntime } from "../src/emit/runtime.js";
import { planJob } from "../src/plan/job.js";
import { CompileError } from "../src/validate/index.js";
import { deco, flowIR, linearIR, param, stepOf } from "./support/ir.js";
import { pythonExecutable, REPO_ROOT, runProcess } from "./support/python.js";

const RUNTIME_PATH = join(REPO_ROOT, "python", "metaflow_dagster", "runtime.py");
const RUNTIME = readFileSync(RUNTIME_PATH, "utf-8");
// What compile() reserves for the planner: the runtime's names and the module's own.
const MODULE_NAMES: ReadonlySet<string> = moduleNames(splitRuntime(RUNTIME).names);
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

function importedNames(source: string): Set<string> {
  const imports = parseImports(importLines(source));
  const names = new Set<string>();
  for (const mod of imports.plain) names.add(mod.split(".")[0] ?? mod);
  for (const members of imports.from.values()) for (const m of members) names.add(m);
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
    const out = lines(compile(FOREACH_IN_BRANCH(), RUNTIME)).join("\n");
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
    const source = compile(linearIR([], { parameters: params }), RUNTIME);
    const out = lines(source);
    const at = out.indexOf("class StartConfig(Config):");
    expect(at).toBeGreaterThan(0);
    expect(out.slice(at, at + 10)).toEqual([
      "class StartConfig(Config):",
      '    """Parameters of the Metaflow flow TestFlow."""',
      "",
      '    config_blob: Any = Field(default={"a": [1, None]}, alias="config-blob")',
      `    klass: str = Field(default="k", alias="class", description='A "keyword" name')`,
      '    who: str = Field(description="Required.")',
      "    maybe: int | None = Field(default=None)",
      "    blob: Any = Field(default=None)",
      "    ratio: float = Field(default=1.0)",
      "    flag: bool = Field(default=True)",
    ]);
    expect(out).toContain("def op_start(context: OpExecutionContext, config: StartConfig) -> str:");
    expect(out).toContain('    return run_step(context, FLOW, "start", params=config.model_dump(by_alias=True))');
    expect(generated(source)).toContain(
      '    parameters={\n        "config-blob": "json",\n        "class": "str",\n',
    );
  });

  it("writes a required parameter without a default as a bare Field()", () => {
    const ir = linearIR([], { parameters: [param("who", { required: true, hasDefault: false, default: null })] });
    expect(lines(compile(ir, RUNTIME))).toContain("    who: str = Field()");
  });
});

describe("emitted job", () => {
  it("assigns only the outputs a later op reads", () => {
    const body = jobBody(compile(FOREACH_IN_BRANCH(), RUNTIME));
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
      '@job(name="nightly_v2", description="Nightly.", tags={"metaflow/flow": "MyFlow"})\ndef MyFlow() -> None:',
    );
    expect(out.endsWith("defs = Definitions(jobs=[MyFlow])\n")).toBe(true);
    expect(lines(compile(linearIR(), RUNTIME)).join("\n")).toContain(
      '@job(name="TestFlow", tags={"metaflow/flow": "TestFlow"})',
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
    expect(source).toContain("# ---- runtime: metaflow_dagster/runtime.py 0.0.0-test, copied verbatim; do not edit ----");
  });

  it("embeds the runtime body verbatim", () => {
    const source = compile(linearIR(), RUNTIME);
    const body = splitRuntime(RUNTIME).body.join("\n");
    expect(source).toContain(`\n\n${body}\n\n\n# ---- end of runtime ----\n`);
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
// job's wiring back) and ruff, one process each.

interface Case {
  label: string;
  ir: FlowIR;
  /** Names long enough to need lines wrapped that the emitter writes as raw text. */
  longLines?: true;
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
  stepOf(nested, "pq_join").type = "join";

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

  // Flows whose lines the emitter cannot wrap today (see the BUG test below).
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
  ];
}

const Loaded = z.object({
  error: z.string().nullable(),
  job: z.string(),
  defsJobs: z.array(z.string()),
  // op name -> input name -> [kind, upstream op]
  ops: z.record(z.string(), z.record(z.string(), z.tuple([z.string(), z.string()]))),
  dynamic: z.array(z.string()),
  config: z.record(z.string(), z.boolean()).nullable(),
});

const LOAD = String.raw`
import importlib.util, json, sys, traceback
results = []
for i, (path, attr) in enumerate(json.load(sys.stdin)):
    out = {"error": None, "job": "", "defsJobs": [], "ops": {}, "dynamic": [], "config": None}
    try:
        with open(path, encoding="utf-8") as f:
            compile(f.read(), path, "exec", dont_inherit=True)
        spec = importlib.util.spec_from_file_location(f"golden_case_{i}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        job = getattr(module, attr)
        out["job"] = job.name
        out["defsJobs"] = [j.name for j in module.defs.jobs]
        for inv, deps in job.dependencies.items():
            ops = out["ops"].setdefault(inv.name, {})
            for name, dep in deps.items():
                (upstream,) = dep.get_node_dependencies()
                ops[name] = [type(dep).__name__, upstream.node]
        for node in job.graph.node_defs:
            if any(o.is_dynamic for o in node.output_defs):
                out["dynamic"].append(node.name)
            out["ops"].setdefault(node.name, {})
            fields = getattr(node.config_schema.config_type, "fields", None)
            if node.name == "op_start" and fields is not None:
                out["config"] = {k: v.is_required for k, v in fields.items()}
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
  });

  it.each(all.map((c, i) => [c.label, i] as const))("%s imports, and Dagster wires it like the flow", (_label, i) => {
    const c = all[i];
    const got = loaded[i];
    if (c === undefined || got === undefined) throw new Error("missing case");
    expect(got.error).toBeNull();
    expect(got.job).toBe(c.ir.deploy.jobName);
    expect(got.defsJobs).toEqual([c.ir.deploy.jobName]);
    // Expected wiring, from the IR alone (op names from the plan).
    const plan = planJob(c.ir, MODULE_NAMES);
    const fnOf = new Map(plan.ops.map((o) => [o.step.name, o.fn]));
    const want: Record<string, Record<string, [string, string]>> = {};
    for (const op of plan.ops) {
      const deps: Record<string, [string, string]> = {};
      for (const input of op.inputs) {
        const kind = input.fanIn ? "DynamicCollectDependencyDefinition" : "DependencyDefinition";
        deps[input.name] = [kind, fnOf.get(input.from) ?? "?"];
      }
      want[op.fn] = deps;
      expect(op.inputs.map((x) => x.from)).toEqual(op.step.name === c.ir.flow.startStep ? [] : op.step.inFuncs);
    }
    expect(got.ops).toEqual(want);
    const foreachOps = c.ir.steps.filter((s) => s.type === "foreach").map((s) => fnOf.get(s.name));
    expect([...got.dynamic].sort()).toEqual([...foreachOps].sort());
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
    const check = runProcess(ruff, ["check", "--isolated", "--no-cache", ...paths]);
    expect(check.status, `ruff check:\n${check.stdout}${check.stderr}`).toBe(0);
    const formattable = paths.filter((_p, i) => all[i]?.longLines !== true);
    expect(formattable.length).toBeGreaterThan(4);
    const format = runProcess(ruff, ["format", "--isolated", "--no-cache", "--check", "--diff", ...formattable]);
    expect(format.status, `ruff format:\n${format.stdout}${format.stderr}`).toBe(0);
  });

  it("wraps long lines as ruff does: long step names, joins of many branches", () => {
    // BUG (src/emit/render/job.ts, src/emit/render/ops.ts): three constructs are written
    // as raw text that nothing wraps, so realistic names fail `ruff format --check`:
    //  - the foreach helper `def each_<f>(<f>: str) -> str:` and the collect argument
    //    `<f>.map(each_<f>).collect()` (a foreach step name of ~30 characters);
    //  - a join's input list `[a, b, c, ...]` in `run_step(...)` (six ordinary branches);
    //  - `<step> = op_<step>(...)` when the target and call alone pass 88 columns
    //    (ruff wraps the right-hand side in parentheses).
    const long = paths.filter((_p, i) => all[i]?.longLines === true);
    const format = runProcess(ruffExecutable(), ["format", "--isolated", "--no-cache", "--check", "--diff", ...long]);
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
    z.object({ ok: z.literal(true), source: z.string() }),
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
    expect(answer).toEqual({ ok: true, source: compile(ir, RUNTIME) });
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
      expect(result.stderr).toMatch(/^usage: compiler compile --runtime <runtime.py>/);
      expect(result.stdout).toBe("");
    }
  });
});
