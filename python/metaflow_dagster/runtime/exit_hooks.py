"""@exit_hook: the flow's run-level hooks, run by the job's executor once the run ends.

`python flow.py run` calls them after its last task (runtime.py, `_run_exit_hooks`): the
on_success functions if the end step finished, else the on_error ones, each in a new
process `python -m metaflow.plugins.exit_hook.exit_hook_script <flow file> <function>
<Flow/run>`; it prints their output, reports a failing hook, and never fails the run
because of one. In Dagster no op runs after a failed op, so the job's executor does it:
`with_exit_hooks` wraps the real executor (the thread executor, Dagster's
multiprocess executor, dagster-celery's or dagster-k8s's) and, once that has executed
the plan (finished, failed or terminated), decides success as Metaflow does (did the
run's end task finish with `_task_ok`) and runs the hooks in the run's process (under
Celery or Kubernetes too: where the run's orchestration runs, not on a worker), one
after another, each with a task's environment, reporting its outcome and output in
the Dagster run's log.

`JobDefinition.execute_in_process` replaces the job's executor with Dagster's in-process
executor: it runs no exit hooks.
"""

import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from dagster import DagsterEvent, Executor, ExecutorDefinition, InitExecutorContext

from .dagster_adapter import ExecutionPlan, PlanOrchestrationContext, RetryMode
from .datastore import _flow_datastore
from .model import FlowInfo
from .process import _deploy_env, _kill_group, start_guarded, task_env
from .running import disarm_reaper
from .tasks import metaflow_run_id_of, task_id_of

# What Metaflow's runtime (and its Argo Workflows lifecycle hooks) run for each hook.
EXIT_HOOK_MODULE = "metaflow.plugins.exit_hook.exit_hook_script"
# How much of a hook's output one Dagster log message quotes (the end of it).
HOOK_OUTPUT_CHARS = 100_000


def with_exit_hooks(flow: FlowInfo, inner: ExecutorDefinition) -> ExecutorDefinition:
    """The job's executor: `inner` (same name, config and requirements), then the
    flow's @exit_hook functions once it has executed the run."""
    create = inner.executor_creation_fn
    assert create is not None

    def creation(init_context: InitExecutorContext) -> Executor:
        return _ExitHookExecutor(flow, create(init_context))

    return ExecutorDefinition(
        name=inner.name,
        config_schema=inner.config_schema,
        requirements=inner.get_requirements,
        executor_creation_fn=creation,
        description=inner.description,
    )


class _ExitHookExecutor(Executor):
    def __init__(self, flow: FlowInfo, inner: Executor) -> None:
        self._flow = flow
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def __getattr__(self, name: str) -> Any:
        # What an executor's own machinery asks of the run's executor beyond
        # Executor's interface (dagster-celery's execution loop calls `app_args()`).
        if name.startswith("__") or name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        failed = False
        try:
            for event in self._inner.execute(plan_context, execution_plan):
                failed = failed or event.is_step_failure
                yield event
        except GeneratorExit:
            raise  # the run's orchestration was abandoned: nothing to report to
        except BaseException:
            # Failed or terminated (Metaflow runs its hooks after Ctrl+C as well).
            _after_run(self._flow, plan_context, dagster_ok=False)
            raise
        _after_run(self._flow, plan_context, dagster_ok=not failed)


def _after_run(
    flow: FlowInfo, plan_context: PlanOrchestrationContext, *, dagster_ok: bool
) -> None:
    """Decide the run's outcome as Metaflow does, then run the matching hooks."""
    log = plan_context.log
    run = plan_context.dagster_run
    run_id = metaflow_run_id_of(run)
    try:
        successful = end_step_ok(flow, run_id)
    except Exception as exc:  # noqa: BLE001 (any datastore's errors)
        successful = dagster_ok
        log.warning(
            f"Could not read the end step of {flow.name}/{run_id} ({exc}); taking "
            f"the Dagster run's outcome: {'success' if dagster_ok else 'failure'}."
        )
    kind = "on_success" if successful else "on_error"
    hooks = flow.exit_hooks_on_success if successful else flow.exit_hooks_on_error
    if not hooks:
        return
    why = "its end step finished" if successful else "its end step did not finish"
    log.info(
        f"{flow.name}/{run_id} ended and {why}: running its @exit_hook {kind} "
        f"hooks ({', '.join(hooks)}) as Metaflow's runtime does."
    )
    env = task_env(flow, run_id)
    with tempfile.TemporaryDirectory(prefix="mfdagster-hooks-") as tmp:
        env.update(_deploy_env(flow, run.tags, tmp))
        for name in hooks:
            _report(log, name, kind, run_hook(flow, name, run_id, env))


def end_step_ok(flow: FlowInfo, run_id: str) -> bool:
    """Whether the run's end task finished successfully (the `_task_ok` of its latest
    finished attempt): Metaflow's runtime calls such a run successful."""
    from metaflow.exception import MetaflowException

    store = _flow_datastore(flow)
    try:
        # The end step's op is never inside a foreach.
        tds = store.get_task_datastore(
            run_id, flow.end_step, task_id_of(flow, flow.end_step, None), mode="r"
        )
    except MetaflowException:  # no finished attempt
        return False
    return tds.get("_task_ok") is True


def run_hook(
    flow: FlowInfo, name: str, run_id: str, env: dict[str, str]
) -> tuple[int, str, str]:
    """Run one hook as Metaflow does; its exit code, stdout and stderr.

    It runs in a session of its own, from the flow's directory (where tasks run); a
    reaper kills it should this process die first. Its output is printed here too.
    """
    args = hook_command(flow, name, run_id)
    proc, reaper = start_guarded(args, flow.flow_dir, env)
    try:
        out, err = proc.communicate()
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        disarm_reaper(reaper)
    stdout = out.decode("utf-8", errors="replace")
    stderr = err.decode("utf-8", errors="replace")
    # As Metaflow's runtime: the hook's output on this process's stdout, its error
    # output on stderr, and a line for a failure.
    if stdout.strip():
        print(stdout.strip(), flush=True)
    if stderr:
        sys.stderr.write(stderr)
        sys.stderr.flush()
    if proc.returncode != 0:
        print(
            f"[exit_hook] Hook '{name}' failed with error: Command {args!r} returned "
            f"non-zero exit status {proc.returncode}.",
            flush=True,
        )
    return proc.returncode, stdout, stderr


def hook_command(flow: FlowInfo, name: str, run_id: str) -> list[str]:
    """Metaflow's own command line for a hook (the flow file's path absolute)."""
    pathspec = f"{flow.name}/{run_id}"
    return [sys.executable, "-m", EXIT_HOOK_MODULE, flow.flow_path, name, pathspec]


def _report(log: Any, name: str, kind: str, outcome: tuple[int, str, str]) -> None:
    code, stdout, stderr = outcome
    output = _quoted(("stdout", stdout), ("stderr", stderr))
    if code == 0:
        log.info(f"Exit hook '{name}' ({kind}) finished.{output}")
    else:
        log.error(
            f"Exit hook '{name}' ({kind}) failed with exit code {code}; as in "
            f"Metaflow, this does not change the run's outcome.{output}"
        )


def _quoted(*streams: tuple[str, str]) -> str:
    parts = []
    for label, text in streams:
        text = text.rstrip()
        if not text:
            continue
        if len(text) > HOOK_OUTPUT_CHARS:
            text = "[...]\n" + text[-HOOK_OUTPUT_CHARS:]
        parts.append(f"\n{label}:\n{text}")
    return "".join(parts) if parts else " It printed nothing."
