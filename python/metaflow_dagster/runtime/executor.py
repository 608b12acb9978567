"""The thread executor (the default under fast launch): each op is a thread of the run.

An op only supervises its Metaflow task, which is a process of its own: it waits on the
task's pipes and exit. The multiprocess executor gives every op a process as well (a
fork, then Dagster's bootstrap: about 0.2 s of CPU and 100 MiB per op). Here ops are
threads of the run worker, at most `max_concurrent` at a time, so a Metaflow task is
one process, as under `python flow.py run`. Each op still goes through Dagster's own
step execution (events, retries and their delays, dynamic outputs, hooks); only where
it runs differs. Each op's compute logs (the task's stdout and stderr) are its own.

Cancelling a run (an interrupt in the run's main thread) cannot reach a thread, so the
executor kills the running tasks' process groups itself (process.cancel_run_tasks), and
each op then fails as interrupted.
"""

# (dagster.Field, not Field: generated files import pydantic's Field for run config.)
import contextlib
import functools
import itertools
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster
from dagster import (
    DagsterEvent,
    DagsterExecutionInterruptedError,
    Executor,
    ExecutorDefinition,
    InitExecutorContext,
    StepExecutionContext,
    executor,
)

from .dagster_adapter import (
    ActiveExecution,
    CapturedLogContext,
    ComputeIOType,
    EngineEventData,
    ExecuteRunWithPlanIterable,
    ExecutionPlan,
    InstanceConcurrencyContext,
    PlanExecutionContext,
    PlanExecutionContextManager,
    PlanOrchestrationContext,
    RetryMode,
    UnsupportedDagsterError,
    _trigger_hook,
    create_compute_log_file_key,
    dagster_event_sequence_for_step,
    get_retries_config,
    get_tag_concurrency_limits_config,
    thread_executor_problem,
)
from .limits import INTERRUPT_POLL_SECONDS, WAIT_SECONDS, _report_if_revoked
from .model import HEARTBEAT_SECONDS, HEARTBEAT_TAG, KILL_GRACE_SECONDS, FlowInfo
from .running import cancel_run_tasks, forget_cancelled_run, step_echo


def thread_executor(flow: FlowInfo, max_concurrent: int) -> ExecutorDefinition:
    """The job's executor: each op a thread of the run's process. `max_concurrent` is
    the default for run config's `execution: {config: {max_concurrent: ...}}`."""
    problem = thread_executor_problem()
    if problem is not None:
        return _unavailable(problem)

    @executor(
        name="metaflow_threads",
        config_schema={
            "max_concurrent": dagster.Field(
                int,
                is_required=False,
                default_value=max_concurrent,
                description="How many ops (Metaflow tasks) run at once.",
            ),
            "retries": get_retries_config(),
            # As the multiprocess executor's: e.g. one op with a GPU at a time, by the
            # `metaflow/resources.gpu` tag @resources gives ops.
            "tag_concurrency_limits": get_tag_concurrency_limits_config(),
        },
    )
    def threads(init_context: InitExecutorContext) -> Executor:
        """Each op a thread of the run's process (Metaflow tasks are processes)."""
        config = init_context.executor_config
        retries = RetryMode.from_config(config["retries"])
        assert retries is not None
        limits = config.get("tag_concurrency_limits")
        return _ThreadExecutor(flow, retries, int(config["max_concurrent"]), limits)

    return threads


def _unavailable(problem: str) -> ExecutorDefinition:
    """On a Dagster the thread executor does not support, the file still loads (its
    jobs, `execute_in_process`, schedules and sensors need only public API): a run
    stops at its start, saying why. Any run config is accepted, so that the reason,
    not a config error, is what the run reports."""

    @executor(name="metaflow_threads", config_schema=dagster.Permissive())
    def threads(init_context: InitExecutorContext) -> Executor:
        raise UnsupportedDagsterError(problem)

    return threads


class _ThreadExecutor(Executor):
    def __init__(
        self,
        flow: FlowInfo,
        retries: RetryMode,
        max_concurrent: int,
        tag_concurrency_limits: list[dict[str, Any]] | None,
    ) -> None:
        self._flow = flow
        self._retries = retries
        self._max_concurrent = max(max_concurrent, 1)
        self._tag_concurrency_limits = tag_concurrency_limits

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps as threads of process {os.getpid()} "
            f"(at most {self._max_concurrent} at a time)",
            EngineEventData.in_process(
                os.getpid(), execution_plan.step_keys_to_execute
            ),
        )
        limit = self._max_concurrent
        # While Dagster sets the run up, the launcher imports Metaflow.
        if self._flow.fast_launch is not None:
            prestart = self._flow.fast_launch.prestart
            threading.Thread(target=prestart, args=(self._flow,), daemon=True).start()

        def iterate(
            job_context: PlanExecutionContext, execution_plan: ExecutionPlan
        ) -> Iterator[DagsterEvent]:
            with (
                InstanceConcurrencyContext(
                    job_context.instance, job_context.dagster_run
                ) as concurrency,
                execution_plan.start(
                    retry_mode=job_context.retry_mode,
                    max_concurrent=limit,
                    tag_concurrency_limits=self._tag_concurrency_limits,
                    instance_concurrency_context=concurrency,
                    step_dependency_config=job_context.step_dependency_config,
                ) as active,
                _reporting(job_context, self._flow.lost_run_after is not None),
            ):
                yield from _drive(job_context, active, limit)

        yield from ExecuteRunWithPlanIterable(
            execution_plan=plan_context.execution_plan,
            iterator=iterate,
            execution_context_manager=PlanExecutionContextManager(
                job=plan_context.job,
                retry_mode=plan_context.retry_mode,
                execution_plan=plan_context.execution_plan,
                run_config=plan_context.run_config,
                dagster_run=plan_context.dagster_run,
                instance=plan_context.instance,
                raise_on_error=plan_context.raise_on_error,
                output_capture=plan_context.output_capture,
            ),
        )


@contextlib.contextmanager
def _reporting(job_context: PlanExecutionContext, enabled: bool) -> Iterator[None]:
    """While the plan executes, say every HEARTBEAT_SECONDS that this process is alive
    (the run tag HEARTBEAT_TAG), for the job's lost_runs sensor (automation.py): a run
    whose machine is lost stops saying it, and nothing else would notice."""
    if not enabled:
        yield
        return
    instance, run_id = job_context.instance, job_context.run_id
    stop = threading.Event()

    def report() -> None:
        while True:
            with contextlib.suppress(Exception):  # storage briefly unreachable
                instance.add_run_tags(run_id, {HEARTBEAT_TAG: str(int(time.time()))})
            if stop.wait(HEARTBEAT_SECONDS):
                return

    thread = threading.Thread(target=report, name="metaflow-dagster heartbeat")
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        stop.set()


@dataclass(frozen=True)
class _Done:
    """A step's thread ended; `error`: what it raised, if anything."""

    error: BaseException | None


_Item = DagsterEvent | _Done


def _drive(
    job_context: PlanExecutionContext, active: ActiveExecution, limit: int
) -> Iterator[DagsterEvent]:
    """Start steps as they become ready; pass their events on in the order they come."""
    run_id = job_context.run_id
    # Each thread's items carry its own number: a retry with no delay can start (same
    # step key) before the failed attempt's thread has said it is done.
    items: queue.Queue[tuple[int, tuple[str, _Item]]] = queue.Queue()
    running: dict[int, tuple[str, threading.Thread]] = {}
    numbers = itertools.count()
    errors: list[BaseException] = []
    stopping_since: float | None = None
    killed = False

    interrupted = False

    def interrupt() -> bool:
        # Dagster's flag is read once (popped): remember it.
        nonlocal interrupted
        interrupted = interrupted or active.check_for_interrupts()
        return interrupted

    def stop() -> None:
        nonlocal stopping_since
        if stopping_since is None:
            stopping_since = time.monotonic()
            active.mark_interrupted()
            cancel_run_tasks(run_id, signal.SIGTERM)

    try:
        while running or (stopping_since is None and not active.is_complete):
            if stopping_since is None and interrupt():
                _report_if_revoked(job_context)
                yield DagsterEvent.engine_event(
                    job_context,
                    "Thread executor: the run was terminated; stopping its tasks",
                    EngineEventData.interrupted(_keys(running)),
                )
                stop()
            if stopping_since is None:
                ready = active.get_steps_to_execute(limit=limit - len(running))
                yield from active.concurrency_event_iterator(job_context)
                for step in ready:
                    context = job_context.for_step(step, active.get_known_state())
                    number = next(numbers)
                    thread = threading.Thread(
                        target=_run_step,
                        args=(context, functools.partial(_put_as, items, number)),
                        name=f"metaflow-dagster {step.key}",
                        daemon=True,
                    )
                    running[number] = (step.key, thread)
                    thread.start()
            batch = _next_item(items, interrupt)
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(items.get_nowait())
            for number, (key, item) in batch:
                if isinstance(item, DagsterEvent):
                    yield item
                    active.handle_event(item)
                    continue
                running.pop(number)[1].join()
                if all(k != key for k, _ in running.values()):
                    # (A newer attempt of the step still running is in flight again.)
                    active.verify_complete(job_context, key)
                if item.error is not None:
                    errors.append(item.error)
                    stop()  # as the in-process executor would: raise, run no more
            yield from active.plan_events_iterator(job_context)
            if (
                stopping_since is not None
                and not killed
                and time.monotonic() > stopping_since + KILL_GRACE_SECONDS
            ):
                killed = True  # a task that ignores SIGTERM
                cancel_run_tasks(run_id, signal.SIGKILL)
    except BaseException as raised:
        # Interrupted here (not at a checkpoint), or Dagster failed: stop every task
        # and let the threads record their steps as interrupted before going on.
        stop()
        deadline = time.monotonic() + 2 * KILL_GRACE_SECONDS
        for _, thread in running.values():
            thread.join(timeout=max(deadline - time.monotonic(), 0.0))
            if time.monotonic() > deadline - KILL_GRACE_SECONDS:
                cancel_run_tasks(run_id, signal.SIGKILL)
        if isinstance(raised, SystemExit):
            # A termination signal turned into SystemExit (where Dagster's own handler
            # is not installed): the run was interrupted, and Dagster records it so.
            _report_if_revoked(job_context)
            raise DagsterExecutionInterruptedError() from raised
        raise
    finally:
        forget_cancelled_run(run_id)
    interrupts = (KeyboardInterrupt, DagsterExecutionInterruptedError)
    other = [e for e in errors if not isinstance(e, interrupts)]
    if other:
        raise other[0]
    if stopping_since is not None:
        raise DagsterExecutionInterruptedError()


def _next_item(
    items: queue.Queue[tuple[int, tuple[str, _Item]]], interrupted: Callable[[], bool]
) -> list[tuple[int, tuple[str, _Item]]]:
    """The next item within WAIT_SECONDS, or none; none at once when the run is
    interrupted, so that a revoked run is reported canceling within moments."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            return [items.get(timeout=INTERRUPT_POLL_SECONDS)]
        except queue.Empty:
            if interrupted() or time.monotonic() > deadline:
                return []


def _keys(running: dict[int, tuple[str, threading.Thread]]) -> list[str]:
    return sorted({key for key, _ in running.values()})


def _put_as(
    items: queue.Queue[tuple[int, tuple[str, _Item]]],
    number: int,
    item: tuple[str, _Item],
) -> None:
    items.put((number, item))


def _run_step(
    context: StepExecutionContext, put: Callable[[tuple[str, _Item]], None]
) -> None:
    """One op, in its own thread: Dagster's step execution, its compute logs its own."""
    key = context.step.key
    error: BaseException | None = None
    try:
        with _step_logs(context, put):
            events = []
            for event in dagster_event_sequence_for_step(context):
                events.append(event)
                put((key, event))
            for event in _trigger_hook(context, events):
                put((key, event))
    except BaseException as exc:  # noqa: BLE001 (handed to the executor's thread)
        error = exc
    finally:
        put((key, _Done(error)))


@contextlib.contextmanager
def _step_logs(
    context: StepExecutionContext, put: Callable[[tuple[str, _Item]], None]
) -> Iterator[None]:
    """Capture the op's task output as the step's own stdout/stderr in Dagster."""
    manager = context.instance.compute_log_manager
    file_key = create_compute_log_file_key()
    log_key = manager.build_log_key_for_run(context.run_id, file_key)
    put(
        (
            context.step.key,
            DagsterEvent.capture_logs(
                context, [context.step.key], log_key, CapturedLogContext(log_key)
            ),
        )
    )
    with (
        manager.open_log_stream(log_key, ComputeIOType.STDOUT) as out,
        manager.open_log_stream(log_key, ComputeIOType.STDERR) as err,
        step_echo(out, err),
    ):
        yield
    complete = getattr(manager, "complete_artifact_path", None)
    if callable(complete):
        # The local manager's "capture done" mark: the UI stops waiting for more.
        with contextlib.suppress(OSError), open(complete(log_key), "a"):
            pass
