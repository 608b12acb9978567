// The flow IR: the JSON contract between the Python introspection (which reads a live
// Metaflow flow) and this compiler. Data only: the compiler never evaluates Python.
// Bump IR_VERSION on any incompatible change; the Python side writes the same number.
import { z } from "zod";

export const IR_VERSION = 2;

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export const stepTypes = [
  "start",
  "linear",
  "join",
  "split",
  "foreach",
  "split-switch",
  "end",
] as const;

export const decoratorSchema = z.object({
  name: z.string(),
  // Attributes as Metaflow resolved them (after defaults); non-JSON values arrive as strings.
  attributes: z.record(z.string(), jsonValue),
  // False when attached at deploy time (`--with`); those are forwarded to every task.
  staticallyDefined: z.boolean(),
  // Hooks of Metaflow's own runtime the decorator implements (runtime_init,
  // runtime_task_created, runtime_step_cli): called outside the task, so not by an op.
  runtimeHooks: z.array(z.string()).default([]),
});
export type DecoratorIR = z.infer<typeof decoratorSchema>;

export const stepSchema = z.object({
  name: z.string().min(1),
  type: z.enum(stepTypes),
  // Steps this one transitions to, in source order (switch: the cases' targets).
  next: z.array(z.string()),
  // Steps that transition into this one, sorted (Metaflow's own order).
  inFuncs: z.array(z.string()),
  // Enclosing splits (outermost first), as Metaflow's graph computes them.
  splitParents: z.array(z.string()),
  // For split/foreach: the join that closes it.
  matchingJoin: z.string().nullable(),
  foreachParam: z.string().nullable(),
  numParallel: z.number().int().nonnegative(),
  // `num_parallel` was given (as a literal, numParallel > 0, or as an expression).
  parallel: z.boolean().default(false),
  switchCondition: z.string().nullable(),
  // case value -> target step, in source order.
  switchCases: z.array(z.tuple([z.string(), z.string()])),
  decorators: z.array(decoratorSchema),
  // max over the step's decorators of step_task_retry_count().
  retries: z.object({ user: z.number().int().nonnegative(), error: z.number().int().nonnegative() }),
  // `--with` specs of decorators not defined in source (forwarded as top-level `--with`).
  withSpecs: z.array(z.string()),
  // @environment variables, already converted with Python's str() (as Metaflow does).
  environment: z.record(z.string(), z.string()),
  // The effective @timeout in seconds (seconds + 60 * minutes + 3600 * hours), if any.
  timeoutSeconds: z.number().int().positive().nullable().default(null),
  doc: z.string().nullable(),
  sourceLine: z.number().int().nullable(),
  // Artifacts the step's source assigns (`self.x = ...`, public names only, sorted), and
  // its call of `self.merge_artifacts(inputs, include=..., exclude=...)` if any (a join
  // that keeps its inputs' values): the literal lists given, include null when not given
  // (all). Read from the source at create time (python/metaflow_dagster/artifacts.py).
  assigns: z.array(z.string()).default([]),
  merges: z.object({ include: z.array(z.string()).nullable(), exclude: z.array(z.string()) }).nullable().default(null),
});
export type StepIR = z.infer<typeof stepSchema>;

// `file`: an IncludeFile. Its value is the descriptor of a file already in the datastore
// (its default: stored at create time, as Metaflow's schedulers do), or a path that
// `init` reads (relative to the flow's directory) and stores when the run starts.
export const parameterTypes = ["str", "int", "float", "bool", "json", "file"] as const;
export type ParameterType = (typeof parameterTypes)[number];

export const parameterSchema = z.object({
  // The name users pass (`--my-param`), as declared in Parameter("my-param").
  name: z.string().min(1),
  // The attribute on the flow (`self.my_param`).
  attribute: z.string().min(1),
  type: z.enum(parameterTypes),
  required: z.boolean(),
  hasDefault: z.boolean(),
  // The default after deploy-time evaluation. For json parameters: the decoded value.
  default: jsonValue,
  // A json parameter's default as Python's JSON text, when it holds a whole float (1.0):
  // JavaScript numbers cannot tell 1.0 from 1, and the flow must get the float.
  defaultText: z.string().nullable().default(null),
  help: z.string().nullable(),
  separator: z.string().nullable(),
});
export type ParameterIR = z.infer<typeof parameterSchema>;

export const projectSchema = z.object({
  name: z.string(),
  // e.g. `user.alice`, `test.my_branch`, `prod`, `prod.staging`.
  branch: z.string(),
  // `<project>.<branch>.<Flow>`: the deployment's name in Metaflow.
  flowName: z.string(),
  production: z.boolean(),
  userBranch: z.boolean(),
});
export type ProjectIR = z.infer<typeof projectSchema>;

export const automationSchema = z.object({
  // @schedule: Metaflow's resolved `.schedule` (AWS 6-field or 5-field cron) and `.timezone`.
  schedule: z
    .object({
      expression: z.string(),
      timezone: z.string().nullable(),
      attributes: z.record(z.string(), jsonValue),
    })
    .nullable(),
  // @trigger: each event with its mapping parameter name -> payload field.
  events: z
    .object({
      events: z.array(z.object({ name: z.string(), parameters: z.record(z.string(), z.string()) })),
      options: z.record(z.string(), jsonValue),
    })
    .nullable(),
  // @trigger_on_finish: upstream flows, project-aware.
  onFinish: z
    .object({
      flows: z.array(
        z.object({
          flow: z.string(),
          project: z.string().nullable(),
          branch: z.string().nullable(),
          // `<project>.<branch>.<Flow>`, or the flow name without @project: the
          // upstream job is named after it (base/dagster_names.ts dagsterJobName).
          projectFlowName: z.string().min(1),
        }),
      ),
      options: z.record(z.string(), jsonValue),
    })
    .nullable(),
});
export type AutomationIR = z.infer<typeof automationSchema>;

export const flowIRSchema = z.object({
  irVersion: z.literal(IR_VERSION),
  generator: z.object({ name: z.string(), version: z.string() }),
  // The Dagster and Metaflow installed where `create` ran: the file records them, and
  // names them when it loads where versions outside the runtime's range are installed.
  compiledWith: z.object({ dagster: z.string(), metaflow: z.string() }),
  flow: z.object({
    // The Metaflow flow name (the FlowSpec class name).
    name: z.string().min(1),
    // Path of the flow file relative to the generated file's directory (POSIX separators).
    file: z.string().min(1),
    doc: z.string().nullable(),
    startStep: z.string(),
    endStep: z.string(),
  }),
  steps: z.array(stepSchema).min(1),
  parameters: z.array(parameterSchema),
  deploy: z.object({
    // `--name`: the Dagster job name as given; null: the job is named after
    // projectFlowName (base/dagster_names.ts dagsterJobName).
    jobName: z.string().min(1).nullable(),
    // `<project>.<branch>.<Flow>` under @project (as Metaflow names deployments), else
    // the flow name.
    projectFlowName: z.string().min(1),
    // Name of the generated file (basename), for its header.
    outputFile: z.string().min(1),
    // The command that regenerates the file, for its header (argument list).
    regenerate: z.array(z.string()),
    // Top-level options every task gets: --quiet, --metadata, --datastore, ...
    topLevelArgs: z.array(z.string()),
    // Explicit datastore root; null means "resolve at run time like Metaflow does".
    datastoreRoot: z.string().nullable(),
    datastore: z.string(),
    metadata: z.string(),
    tags: z.array(z.string()),
    namespace: z.string().nullable(),
    // The user who ran `create` (METAFLOW_OWNER for every task; user branches follow it).
    owner: z.string().nullable(),
    description: z.string().nullable(),
    // How runs execute (`--executor`): ops as threads of the run's process, as processes
    // of the multiprocess executor, as tasks of dagster-celery's workers, or as
    // Kubernetes jobs of dagster-k8s; how many at once (`--max-workers`; threads and
    // multiprocess only), and whether tasks start warm (`--fast-launch`).
    executor: z
      .object({
        kind: z.enum(["threads", "multiprocess", "celery", "k8s"]).default("threads"),
        maxWorkers: z.number().int().positive(),
        fastLaunch: z.boolean(),
        // celery: step -> the Celery queue its op goes to (`--celery-queue STEP=QUEUE`);
        // absent: none.
        celeryQueues: z.record(z.string().min(1), z.string().min(1)).optional(),
        // celery: the queue of steps with @resources(gpu > 0) not named in celeryQueues
        // (`--celery-gpu-queue`); absent or null: the default queue, like the others.
        celeryGpuQueue: z.string().min(1).nullable().optional(),
        // threads: a run whose process has not reported for this many seconds is failed
        // (`--lost-run-after`): its machine was lost. The run's process reports every
        // few seconds; a sensor of the job fails the silent runs. Absent or null: no
        // such sensor (other executors: Dagster's own run monitoring).
        lostRunAfter: z.number().int().positive().nullable().optional(),
      })
      .default({ kind: "threads", maxWorkers: 16, fastLaunch: true }),
    // `--workflow-timeout`: seconds a run may take, from the Dagster run's start.
    workflowTimeout: z.number().int().positive().nullable().default(null),
    // `--max-num-splits`: as `python flow.py run --max-num-splits` (default 100 there), a
    // foreach task yielding more splits than this fails the run; null: no limit, as in
    // Metaflow's production schedulers (Argo Workflows, Step Functions).
    maxNumSplits: z.number().int().positive().nullable().default(null),
    // `--max-log-size`, in megabytes as `python flow.py run --max-log-size`: how much of a
    // task's stdout, and of its stderr, Metaflow's runtime stores for `logs` and
    // Task.stdout before a "[TRUNCATED - MAXIMUM LOG FILE SIZE REACHED]" line; null:
    // `run`'s default (10 MB, which the runtime holds: model.MAX_LOG_BYTES).
    maxLogSize: z.number().int().positive().nullable().default(null),
    // @project as Metaflow resolved it for this deployment (with --branch/--production).
    project: projectSchema.nullable().default(null),
    // Config values resolved at create time: name -> the value as JSON text (Python's
    // json.dumps, kept as text so that 1.0 stays a float) and whether it is `plain`.
    configs: z.record(z.string(), z.object({ json: z.string(), plain: z.boolean() })).default({}),
    // The flow's assets in Dagster's asset graph: `artifacts`, the end step's artifacts
    // the user named (`--asset`), or null: those the steps' sources assign that can reach
    // the end step. null instead of the object: no assets (`--no-assets`).
    assets: z
      .object({ artifacts: z.array(z.string().min(1)).nullable() })
      .nullable()
      .default({ artifacts: null }),
  }),
  // Flow decorators that start runs: @schedule, @trigger, @trigger_on_finish.
  automation: automationSchema.default({ schedule: null, events: null, onFinish: null }),
  // Every flow decorator, by name (sorted), so that none is dropped unnoticed.
  flowDecorators: z.array(decoratorSchema).default([]),
  // Each @exit_hook, in declaration order. After a run ends, Metaflow's runtime runs the
  // on_success functions if the end step finished, else the on_error ones, each as
  // `python -m metaflow.plugins.exit_hook.exit_hook_script <flow file> <name> <Flow/run>`
  // (a function of the flow file, or an import path `module.function`), and never fails
  // the run because of one. `options` are Argo Workflows' (the hook container's image).
  exitHooks: z
    .array(
      z.object({
        onSuccess: z.array(z.string().min(1)),
        onError: z.array(z.string().min(1)),
        options: z.record(z.string(), jsonValue),
      }),
    )
    .default([]),
});
export type FlowIR = z.infer<typeof flowIRSchema>;
