// A tiny builder of flow IR objects for unit tests: a test states the graph's edges and
// whatever else matters to it; everything else gets the defaults Metaflow's introspection
// would produce for a plain flow. Graph facts (inFuncs, splitParents, matchingJoin, step
// types) are derived the way Metaflow's FlowGraph derives them (metaflow/graph.py).
import { IR_VERSION, type DecoratorIR, type FlowIR, type JsonValue, type ParameterIR, type StepIR } from "../../src/ir/index.js";
import type { JobArg, JobNode } from "../../src/plan/types.js";

/** One node: its successors, or successors plus what makes it special. */
export type NodeSpec =
  | readonly string[]
  | {
      next?: readonly string[];
      /**
       * The step takes `inputs` (a join). Unset: a join when several steps lead to it and
       * the flow has no switch (with switches, several predecessors can also mean branches
       * converging on a plain step, so joins must be marked).
       */
      join?: boolean;
      /** `self.next(..., foreach=<param>)`. */
      foreach?: string;
      /** `self.next({case: self.<next>...}, condition=<switch>)`: one case per target, named after it. */
      switch?: string;
      /** Anything else, applied last (wins over what the builder derived). */
      step?: Partial<StepIR>;
    };

export interface FlowOptions {
  name?: string;
  startStep?: string;
  endStep?: string;
  parameters?: ParameterIR[];
  deploy?: Partial<FlowIR["deploy"]>;
  flow?: Partial<FlowIR["flow"]>;
  automation?: Partial<FlowIR["automation"]>;
  flowDecorators?: FlowIR["flowDecorators"];
  exitHooks?: FlowIR["exitHooks"];
}

interface Node {
  next: string[];
  join: boolean | null;
  foreach: string | null;
  switch: string | null;
  step: Partial<StepIR>;
}

function normalise(spec: NodeSpec): Node {
  if (Array.isArray(spec)) {
    return { next: [...(spec as readonly string[])], join: null, foreach: null, switch: null, step: {} };
  }
  const s = spec as Exclude<NodeSpec, readonly string[]>;
  return {
    next: [...(s.next ?? [])],
    join: s.join ?? null,
    foreach: s.foreach ?? null,
    switch: s.switch ?? null,
    step: s.step ?? {},
  };
}

/**
 * A FlowIR from a graph given as `{ step: [successors...] }` (in Metaflow's step order).
 * Joins must be marked (`{ next, join: true }`) in flows with switches, as Metaflow knows
 * them by their `inputs` argument; without switches a node with several predecessors is
 * a join as well.
 */
export function flowIR(graph: Record<string, NodeSpec>, options: FlowOptions = {}): FlowIR {
  const names = Object.keys(graph);
  const startStep = options.startStep ?? "start";
  const endStep = options.endStep ?? "end";
  const nodes = new Map(names.map((n) => [n, normalise(graph[n] ?? [])]));
  const hasSwitch = [...nodes.values()].some((n) => n.switch !== null);
  const predecessors = new Map<string, Set<string>>(names.map((n) => [n, new Set()]));
  for (const [name, node] of nodes) {
    for (const next of node.next) if (next !== name) predecessors.get(next)?.add(name);
  }
  const typeOf = (name: string): StepIR["type"] => {
    const node = nodes.get(name) ?? normalise([]);
    const join = node.join ?? (!hasSwitch && (predecessors.get(name)?.size ?? 0) > 1);
    if (name === endStep) return "end";
    if (node.switch !== null) return "split-switch";
    if (node.foreach !== null) return "foreach";
    if (node.next.length > 1) return "split";
    if (join) return "join";
    return name === startStep ? "start" : "linear";
  };
  const types = new Map(names.map((n) => [n, typeOf(n)]));

  // Metaflow's FlowGraph._traverse_graph: every path from the start step, skipping edges
  // back into the path (a loop); a step's split parents are the splits open on the last
  // path that reached it, a join closes the innermost one (and becomes its matching
  // join), and only the edges traversed count as inputs.
  const inFuncs = new Map<string, Set<string>>(names.map((n) => [n, new Set()]));
  const splitParents = new Map<string, string[]>();
  const matchingJoin = new Map<string, string>();
  const traverse = (name: string, seen: readonly string[], parents: readonly string[]): void => {
    const type = types.get(name);
    let after = [...parents];
    if (type === "split" || type === "foreach") {
      splitParents.set(name, [...parents]);
      after = [...parents, name];
    } else if (type === "join") {
      const closed = parents[parents.length - 1];
      if (closed !== undefined) {
        matchingJoin.set(closed, name);
        splitParents.set(name, [...parents]);
        after = parents.slice(0, -1);
      }
    } else {
      splitParents.set(name, [...parents]);
    }
    for (const next of nodes.get(name)?.next ?? []) {
      if (seen.includes(next) || !nodes.has(next)) continue;
      inFuncs.get(next)?.add(name);
      traverse(next, [...seen, next], after);
    }
  };
  if (nodes.has(startStep)) traverse(startStep, [], []);

  const steps: StepIR[] = names.map((name) => {
    const node = nodes.get(name) ?? normalise([]);
    const switchCases: [string, string][] = node.switch !== null ? node.next.map((t) => [t, t]) : [];
    return {
      name,
      type: types.get(name) ?? "linear",
      next: node.next,
      inFuncs: [...(inFuncs.get(name) ?? [])].sort(),
      splitParents: splitParents.get(name) ?? [],
      matchingJoin: matchingJoin.get(name) ?? null,
      foreachParam: node.foreach,
      numParallel: 0,
      parallel: false,
      switchCondition: node.switch,
      switchCases,
      decorators: [],
      retries: { user: 0, error: 0 },
      withSpecs: [],
      environment: {},
      timeoutSeconds: null,
      doc: null,
      sourceLine: null,
      assigns: [],
      merges: null,
      ...node.step,
    };
  });

  const flowName = options.name ?? "TestFlow";
  return {
    irVersion: IR_VERSION,
    generator: { name: "metaflow-dagster", version: "0.0.0-test" },
    compiledWith: { dagster: "1.13.0", metaflow: "2.19.0" },
    flow: {
      name: flowName,
      file: "test_flow.py",
      doc: null,
      startStep,
      endStep,
      ...options.flow,
    },
    steps,
    parameters: options.parameters ?? [],
    deploy: {
      jobName: null,
      projectFlowName: flowName,
      outputFile: "test_flow_dagster.py",
      regenerate: ["python", "test_flow.py", "dagster", "create", "test_flow_dagster.py"],
      topLevelArgs: ["--quiet", "--metadata=local", "--datastore=local"],
      datastoreRoot: null,
      datastore: "local",
      metadata: "local",
      tags: [],
      namespace: null,
      owner: "tester",
      description: null,
      executor: { kind: "threads", maxWorkers: 16, fastLaunch: true },
      workflowTimeout: null,
      maxNumSplits: null,
      maxLogSize: null,
      project: null,
      configs: {},
      assets: { artifacts: null },
      ...options.deploy,
    },
    automation: { schedule: null, events: null, onFinish: null, ...options.automation },
    flowDecorators: options.flowDecorators ?? [],
    exitHooks: options.exitHooks ?? [],
  };
}

/** start -> a -> ... -> end, for tests that only need some flow. */
export function linearIR(middle: readonly string[] = [], options: FlowOptions = {}): FlowIR {
  const chain = ["start", ...middle, "end"];
  const graph: Record<string, NodeSpec> = {};
  chain.forEach((name, i) => {
    graph[name] = i + 1 < chain.length ? [chain[i + 1] ?? "end"] : [];
  });
  return flowIR(graph, options);
}

/** A str Parameter whose attribute is its name; override what matters. */
export function param(name: string, overrides: Partial<ParameterIR> = {}): ParameterIR {
  return {
    name,
    attribute: name,
    type: "str",
    required: false,
    hasDefault: true,
    default: "x",
    help: null,
    separator: null,
    defaultText: null,
    ...overrides,
  };
}

export function deco(name: string, attributes: Record<string, JsonValue> = {}): DecoratorIR {
  return { name, attributes, staticallyDefined: true, runtimeHooks: [] };
}

/** The step of `ir` called `name` (throws if there is none). */
export function stepOf(ir: FlowIR, name: string): StepIR {
  const found = ir.steps.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no step ${name}`);
  return found;
}

// ---------------------------------------------------------------------------------------
// Reading plans back, for tests: the job body as short Python-like lines.

/** An argument as the job body writes it (a collect of an assigned map collects it). */
export function argText(arg: JobArg): string {
  switch (arg.kind) {
    case "var":
      return arg.name;
    case "attr":
      return `${arg.name}.${arg.attr}`;
    case "list":
      return `[${arg.items.map(argText).join(", ")}]`;
    case "collect":
      return arg.fn === null ? `${arg.results}.collect()` : `${arg.source}.map(${arg.fn}).collect()`;
  }
}

/** The job body as short lines, e.g. `b = op_b(a)`; a mapped function's body is indented. */
export function bodyLines(nodes: readonly JobNode[], indent = ""): string[] {
  const out: string[] = [];
  for (const node of nodes) {
    if (node.kind === "call") {
      const call = `${node.fn}(${node.args.map(argText).join(", ")})`;
      out.push(`${indent}${node.target === null ? "" : `${node.target} = `}${call}`);
    } else if (node.kind === "def") {
      out.push(`${indent}def ${node.fn}(${node.param}: ${node.paramType}):`);
      out.push(...bodyLines(node.body, indent + "  "));
      out.push(`${indent}  return ${node.returns.join(", ")}`);
    } else {
      out.push(`${indent}${node.targets.join(", ")} = ${node.source}.map(${node.fn})`);
    }
  }
  return out;
}

/**
 * The same flow where ops hand each other their tasks' paths: under Dagster's
 * multiprocess executor (with the thread executor, a flow without switches, nested
 * foreaches or `num_parallel` has ops find their inputs themselves: Analysis.derivedInputs).
 */
export function valued(ir: FlowIR): FlowIR {
  ir.deploy.executor = { ...ir.deploy.executor, kind: "multiprocess" };
  return ir;
}
