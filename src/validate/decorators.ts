import type { DecoratorIR, FlowIR } from "../ir/index.js";
import type { Problem } from "./errors.js";

// These move the task to other compute from inside Metaflow's own runtime; run as a
// plain `step` command they would silently run on the Dagster worker instead.
const REMOTE_COMPUTE: Record<string, string> = {
  kubernetes: "runs the step on Kubernetes",
  batch: "runs the step on AWS Batch",
  slurm: "runs the step on Slurm",
};

// Metaflow's runtime swaps the interpreter for these (its runtime_step_cli hook); a plain
// `step` command would silently run the task with the Dagster worker's Python instead.
const INTERPRETER: Record<string, string> = {
  conda: "runs the step in a Conda environment Metaflow resolves and bootstraps",
  pypi: "runs the step in a PyPI environment Metaflow resolves and bootstraps",
  conda_base: "runs every step in a Conda environment Metaflow resolves and bootstraps",
  pypi_base: "runs every step in a PyPI environment Metaflow resolves and bootstraps",
};

// Flow decorators acted on by a runtime or scheduler other than the task itself.
const FLOW_ONLY: Record<string, string> = {
  exit_hook: "runs functions after the run ends, which Metaflow's own runtime does; this version has no run-level hook in Dagster and would silently skip them",
  airflow_external_task_sensor: "is a sensor of Airflow's and has no meaning in Dagster",
  airflow_s3_key_sensor: "is a sensor of Airflow's and has no meaning in Dagster",
};

const UNSUPPORTED = "which this version cannot orchestrate from Dagster";

// `disabled=True` turns an environment decorator off; Metaflow then runs the step as is.
function disabled(deco: DecoratorIR): boolean {
  return deco.attributes["disabled"] === true;
}

function environmentType(ir: FlowIR): string {
  const arg = ir.deploy.topLevelArgs.find((a) => a.startsWith("--environment="));
  return arg === undefined ? "local" : arg.slice("--environment=".length);
}

/** Decorators whose behaviour this integration cannot honour are refused, by name. */
export function checkDecorators(ir: FlowIR): Problem[] {
  const problems: Problem[] = [];
  for (const step of ir.steps) {
    for (const deco of step.decorators) {
      const remote = REMOTE_COMPUTE[deco.name];
      if (remote !== undefined) {
        problems.push({
          step: step.name,
          decorator: deco.name,
          message: `${remote}, ${UNSUPPORTED}; it would silently run locally instead`,
        });
      }
      const interpreter = INTERPRETER[deco.name];
      if (interpreter !== undefined && !disabled(deco)) {
        problems.push({ step: step.name, decorator: deco.name, message: `${interpreter}, ${UNSUPPORTED}` });
      }
    }
  }
  for (const deco of ir.flowDecorators) {
    const why = FLOW_ONLY[deco.name] ?? (disabled(deco) ? undefined : INTERPRETER[deco.name]);
    if (why !== undefined) problems.push({ decorator: deco.name, message: `${why}, ${UNSUPPORTED}` });
  }
  const environment = environmentType(ir);
  if (environment !== "local") {
    problems.push({
      message: `--environment=${environment} makes Metaflow choose the interpreter each task runs in, ${UNSUPPORTED}; tasks would run with the Dagster worker's Python`,
    });
  }
  return problems;
}
