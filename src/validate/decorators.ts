import type { DecoratorIR, FlowIR, StepIR } from "../ir/index.js";
import type { Problem } from "../base/problems.js";

const UNSUPPORTED = "which this version cannot orchestrate from Dagster";

// These move the task to other compute from inside Metaflow's own runtime; run as a
// plain `step` command they would silently run on the Dagster worker instead.
const REMOTE_COMPUTE: Record<string, string> = {
  kubernetes: "runs the step on Kubernetes",
  batch: "runs the step on AWS Batch",
  slurm: "runs the step on Slurm",
};

// Metaflow's runtime swaps the interpreter for these (its runtime_step_cli hook), unless
// they are disabled; a plain `step` command would run the task with the worker's Python.
const INTERPRETER = new Set(["conda", "pypi"]);

// Runtime hooks the generated ops reproduce: @environment's variables are set around
// the task, and @parallel's control task starts its workers as the local runtime does.
const HOOKS_HANDLED = new Set(["environment", "parallel", "pytorch_parallel"]);

// Environments whose tasks run with the same Python as the runtime (`uv` changes only
// remote tasks); `conda` and `pypi` depend on their step decorators (see above).
const SAME_INTERPRETER = new Set(["local", "uv"]);

// `disabled=True` turns an environment decorator off; Metaflow then runs the step as is.
function disabled(deco: DecoratorIR): boolean {
  return deco.attributes["disabled"] === true;
}

function environmentType(ir: FlowIR): string {
  const arg = ir.deploy.topLevelArgs.find((a) => a.startsWith("--environment="));
  return arg === undefined ? "local" : arg.slice("--environment=".length);
}

function stepProblems(step: StepIR): Problem[] {
  const problems: Problem[] = [];
  for (const deco of step.decorators) {
    const at = { step: step.name, decorator: deco.name };
    const remote = REMOTE_COMPUTE[deco.name];
    if (remote !== undefined) {
      problems.push({ ...at, message: `${remote}, ${UNSUPPORTED}; it would silently run locally instead` });
    } else if (INTERPRETER.has(deco.name)) {
      if (!disabled(deco)) {
        problems.push({
          ...at,
          message: `runs the step in an environment Metaflow resolves and bootstraps, ${UNSUPPORTED}; the step would run with the Dagster worker's Python (disabled=True is accepted)`,
        });
      }
    } else if (deco.runtimeHooks.length > 0 && !HOOKS_HANDLED.has(deco.name)) {
      problems.push({
        ...at,
        message: `hooks into Metaflow's own runtime (${deco.runtimeHooks.join(", ")}), outside the task, ${UNSUPPORTED}; the step would not run as under 'python flow.py run'`,
      });
    }
  }
  return problems;
}

// @exit_hook runs (the job's executor runs the hooks after the run, as Metaflow's runtime
// does); its `options` configure the container Argo Workflows runs a hook in (`image`).
function exitHookProblems(ir: FlowIR): Problem[] {
  const options = [...new Set(ir.exitHooks.flatMap((hook) => Object.keys(hook.options)))].sort();
  if (options.length === 0) return [];
  return [
    {
      decorator: "exit_hook",
      message: `options ${options.join(", ")} are specific to Argo Workflows (the container a hook runs in) and have no Dagster equivalent; the hooks run in the Dagster run's process: remove them`,
    },
  ];
}

/** Decorators whose behaviour this integration cannot honour are refused, by name. */
export function checkDecorators(ir: FlowIR): Problem[] {
  const problems = ir.steps.flatMap(stepProblems);
  problems.push(...exitHookProblems(ir));
  const environment = environmentType(ir);
  if (INTERPRETER.has(environment)) {
    // Each step has its environment's decorator (Metaflow adds it); without one, say so.
    for (const step of ir.steps.filter((s) => !s.decorators.some((d) => INTERPRETER.has(d.name)))) {
      problems.push({
        step: step.name,
        message: `--environment=${environment} without @${environment} on this step: Metaflow's runtime would choose its interpreter, ${UNSUPPORTED}`,
      });
    }
  } else if (!SAME_INTERPRETER.has(environment)) {
    problems.push({
      message: `--environment=${environment} may make Metaflow choose the interpreter each task runs in, ${UNSUPPORTED}; tasks would run with the Dagster worker's Python`,
    });
  }
  return problems;
}
