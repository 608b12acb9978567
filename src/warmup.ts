// A small flow the CLI compiles, and throws away, while it waits for its input: `dagster
// create` starts the compiler early, so this time is otherwise idle. Running the whole
// pipeline once compiles its functions (V8 compiles lazily, on first call), which makes
// the real compile that follows about 10 ms faster. Kept valid by test/warmup.test.ts.
import { IR_VERSION } from "./ir/schema.js";
const step = (name: string, type: string, next: string[], inFuncs: string[]) => ({
  decorators: [],
  doc: null,
  environment: {},
  foreachParam: null,
  inFuncs,
  matchingJoin: null,
  name,
  next,
  numParallel: 0,
  parallel: false,
  retries: { error: 0, user: 0 },
  sourceLine: 1,
  splitParents: [],
  switchCases: [],
  switchCondition: null,
  timeoutSeconds: null,
  type,
  withSpecs: [],
});

export const WARMUP_IR = {
  automation: { events: null, onFinish: null, schedule: null },
  deploy: {
    configs: {},
    datastore: "local",
    datastoreRoot: null,
    description: null,
    executor: { fastLaunch: true, kind: "threads", maxWorkers: 16 },
    jobName: null,
    projectFlowName: "WarmupFlow",
    metadata: "local",
    namespace: null,
    outputFile: "warmup_dagster.py",
    owner: null,
    project: null,
    regenerate: ["python", "warmup.py", "dagster", "create"],
    tags: [],
    topLevelArgs: ["--quiet"],
    workflowTimeout: null,
  },
  flow: { doc: null, endStep: "end", file: "warmup.py", name: "WarmupFlow", startStep: "start" },
  generator: { name: "metaflow-dagster", version: "0" },
  compiledWith: { dagster: "0", metaflow: "0" },
  irVersion: IR_VERSION,
  parameters: [
    {
      name: "n",
      attribute: "n",
      type: "int",
      required: false,
      hasDefault: true,
      default: 1,
      help: null,
      separator: null,
      defaultText: null,
    },
  ],
  steps: [step("start", "start", ["end"], []), step("end", "end", [], ["start"])],
};
