"""What stops a Metaflow command before it ends: the step's @timeout, the run's
--workflow-timeout, and, for an op away from the run's process, the run's cancel; and
how a run whose Celery task was revoked is told apart from one that failed."""

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from dagster import Failure, OpExecutionContext

from .dagster_adapter import PlanExecutionContext
from .model import TIMEOUT_GRACE_SECONDS, FlowInfo

# How often an op away from the run's process asks whether the run is being cancelled.
WATCH_SECONDS = 1.0


def _run_stopping(context: OpExecutionContext) -> Callable[[], bool]:
    """Whether the op's run is being cancelled, or was (in the Dagster instance, which
    every worker of a distributed deployment shares)."""

    def stopping() -> bool:
        with contextlib.suppress(Exception):  # storage briefly unreachable: ask again
            run = context.instance.get_run_by_id(context.run_id)
            return run is not None and run.status.value in ("CANCELING", "CANCELED")
        return False

    return stopping


@dataclass(frozen=True)
class _Limit:
    """When (time.monotonic()) the op stops a command, and what it then reports."""

    at: float
    message: str
    # False for the workflow timeout: a retry could not help.
    retry: bool


def _limit(
    context: OpExecutionContext,
    flow: FlowInfo,
    log_target: tuple[str, int] | None,
) -> _Limit | None:
    """The earliest of the step's @timeout and the run's --workflow-timeout, if any.

    `log_target` names the task (`run/step/task`); None for `init`. Refuses to start
    anything once the run is past its workflow timeout.
    """
    now = time.monotonic()
    step = None if log_target is None else log_target[0].split("/")[1]
    limits = []
    info = None if step is None else flow.steps.get(step)
    if info is not None and info.timeout:
        limits.append(
            _Limit(
                now + info.timeout + TIMEOUT_GRACE_SECONDS,
                f"Step {step!r} timed out after {info.timeout:g} seconds (@timeout); "
                f"the op killed its process group {TIMEOUT_GRACE_SECONDS:g} seconds "
                "later, as Metaflow's own timeout had not stopped it",
                True,
            )
        )
    if flow.workflow_timeout:
        what = "init" if step is None else f"step {step!r}"
        left = run_started_at(context) + flow.workflow_timeout - time.time()
        if left <= 0:
            raise Failure(
                description=f"{flow.name} reached its workflow timeout of "
                f"{flow.workflow_timeout:g} seconds (--workflow-timeout); "
                f"not starting {what}.",
                allow_retries=False,
            )
        limits.append(
            _Limit(
                now + left,
                f"{flow.name} reached its workflow timeout of "
                f"{flow.workflow_timeout:g} seconds (--workflow-timeout); the op "
                f"stopped {what}",
                False,
            )
        )
    return min(limits, key=lambda limit: limit.at, default=None)


def run_started_at(context: OpExecutionContext) -> float:
    """When the Dagster run started (epoch seconds), as its run record says.

    The run record is in the instance's run storage, so every process of the
    multiprocess executor (and every re-import of this file) sees the same value. A
    re-execution is a new Dagster run: its clock starts again.
    """
    instance = context.instance
    record = instance.get_run_record_by_id(context.run_id)
    if record is not None and record.start_time:
        return float(record.start_time)
    stats = instance.get_run_stats(context.run_id)
    if stats.start_time:
        return float(stats.start_time)
    if record is not None:
        return record.create_timestamp.timestamp()
    return time.time()


# dagster-celery's CeleryRunLauncher cancels a run by revoking its Celery task with
# terminate=True: the worker's pool process gets SIGTERM (an interrupt for Dagster), and
# unlike Dagster's own run launcher and dagster-k8s's, it does not report the run as
# canceling first, so Dagster would record the cancel as a failure. Run monitoring may
# still see the revoked task first (within the moment before this reports) and mark the
# run failed: README says so.
CELERY_TASK_ID_TAG = "dagster-celery/task_id"
REVOKED_WITHIN_SECONDS = 5.0
# That moment is the thread executor's loop (executor.py) noticing the interrupt (it
# reads the flag every INTERRUPT_POLL_SECONDS while it waits, and does its bookkeeping
# every WAIT_SECONDS at least), then one read of the task's state and one write of the
# run's status.
INTERRUPT_POLL_SECONDS = 0.05
WAIT_SECONDS = 0.5


def _report_if_revoked(job_context: PlanExecutionContext) -> None:
    """Report the run as canceling if its run launcher's Celery task was revoked (a
    user's terminate), so that Dagster ends it CANCELED; any other SIGTERM stays a
    failure. The worker marks the task revoked just after it signals the process."""
    run = job_context.dagster_run
    task_id = run.tags.get(CELERY_TASK_ID_TAG)
    instance = job_context.instance
    app = getattr(instance.run_launcher, "celery", None) if task_id else None
    if app is None:
        return
    deadline = time.monotonic() + REVOKED_WITHIN_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the broker may be gone: then a failure
            if app.AsyncResult(task_id).state == "REVOKED":
                current = instance.get_run_by_id(run.run_id)
                if current is not None and not current.is_finished:
                    instance.report_run_canceling(
                        current, message="The run's Celery task was revoked."
                    )
                return
        time.sleep(INTERRUPT_POLL_SECONDS)
