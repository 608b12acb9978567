// A tiny builder of flow IR objects for unit tests: a test states the graph's edges and
// whatever else matters to it; everything else gets the defaults Metaflow's introspection
// would produce for a plain flow. Graph facts (inFuncs, splitParents, matchingJoin, step
// types) are derived the way Metaflow's FlowGraph derives them.
import type { DecoratorIR, FlowIR, JsonValue, ParameterIR, StepIR } from "../../src/ir/index.js";

/** One node: its successors, or successors plus what makes it special. */
export type NodeSpec =
  | readonly string[]
  | {
      next?: readonly string[];
      /** The step takes `inputs` (a join). */
      join?: boolean;
      /** `self.next(..., foreach=<param>)`. */
      foreach?: string;
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
}

interface Node {
  next: string[];
  join: boolean;
  foreach: string | null;
  step: Partial<StepIR>;
}

function normalise(spec: NodeSpec): Node {
  if (Array.isArray(spec)) return { next: [...(spec as readonly string[])], join: false, foreach: null, step: {} };
  const s = spec as Exclude<NodeSpec, readonly string[]>;
  return { next: [...(s.next ?? [])], join: s.join ?? false, foreach: s.foreach ?? null, step: s.step ?? {} };
}

/**
 * A FlowIR from a graph given as `{ step: [successors...] }` (in Metaflow's step order).
 * Joins must be marked (`{ next, join: true }`), as Metaflow knows them by their
 * `inputs` argument; a node with several predecessors is a join as well.
 */
export function flowIR(graph: Record<string, NodeSpec>, options: FlowOptions = {}): FlowIR {
  const names = Object.keys(graph);
  const startStep = options.startStep ?? "start";
  const endStep = options.endStep ?? "end";
  const nodes = new Map(names.map((n) => [n, normalise(graph[n] ?? [])]));
  const inFuncs = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const [name, node] of nodes) {
    for (const next of node.next) inFuncs.get(next)?.push(name);
  }
  const isJoin = (name: string): boolean =>
    (nodes.get(name)?.join ?? false) || (inFuncs.get(name)?.length ?? 0) > 1;
  const isSplit = (name: string): boolean => {
    const node = nodes.get(name);
    return node !== undefined && (node.foreach !== null || node.next.length > 1);
  };

  // Metaflow's traversal: a node's split parents are the splits open when it is reached;
  // a join closes the innermost one (and becomes its matching join).
  const splitParents = new Map<string, string[]>();
  const matchingJoin = new Map<string, string>();
  const visit = (name: string, parents: string[]): void => {
    if (splitParents.has(name) || !nodes.has(name)) return;
    splitParents.set(name, parents);
    let after = parents;
    if (isJoin(name)) {
      const closed = parents[parents.length - 1];
      if (closed !== undefined && !matchingJoin.has(closed)) matchingJoin.set(closed, name);
      after = parents.slice(0, -1);
    }
    if (isSplit(name)) after = [...after, name];
    for (const next of nodes.get(name)?.next ?? []) visit(next, after);
  };
  visit(startStep, []);

  const steps: StepIR[] = names.map((name) => {
    const node = nodes.get(name) ?? normalise([]);
    const type: StepIR["type"] =
      name === endStep
        ? "end"
        : node.foreach !== null
          ? "foreach"
          : node.next.length > 1
            ? "split"
            : isJoin(name)
              ? "join"
              : name === startStep
                ? "start"
                : "linear";
    return {
      name,
      type,
      next: node.next,
      inFuncs: [...(inFuncs.get(name) ?? [])].sort(),
      splitParents: splitParents.get(name) ?? [],
      matchingJoin: matchingJoin.get(name) ?? null,
      foreachParam: node.foreach,
      numParallel: 0,
      switchCondition: null,
      switchCases: [],
      decorators: [],
      retries: { user: 0, error: 0 },
      withSpecs: [],
      environment: {},
      doc: null,
      sourceLine: null,
      ...node.step,
    };
  });

  const flowName = options.name ?? "TestFlow";
  return {
    irVersion: 1,
    generator: { name: "metaflow-dagster", version: "0.0.0-test" },
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
      jobName: flowName,
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
      ...options.deploy,
    },
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
    ...overrides,
  };
}

export function deco(name: string, attributes: Record<string, JsonValue> = {}): DecoratorIR {
  return { name, attributes, staticallyDefined: true };
}

/** The step of `ir` called `name` (throws if there is none). */
export function stepOf(ir: FlowIR, name: string): StepIR {
  const found = ir.steps.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no step ${name}`);
  return found;
}
