"""Reading task results from the datastore, as Metaflow's own runtime does."""

# [embedded imports: begin]
import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

from dagster import Failure, MetadataValue, OpExecutionContext

# [embedded imports: end]
# isort: split
# [runtime parts: begin]
from .model import METAFLOW_MAX_ATTEMPTS, PARAMS_TASK_ID, FlowInfo, TaskResult

# [runtime parts: end]


# ---------------------------------------------------------------------------------
# Datastore access (the same layer Metaflow's own runtime reads task results from)


def nearest_local_dir(start: str) -> str | None:
    """The `.metaflow` directory Metaflow finds from `start` upwards (real), if any.

    Metaflow looks this way from its working directory for the local datastore, local
    cards and the local config; tasks run in the flow's directory.
    """
    from metaflow.metaflow_config import DATASTORE_LOCAL_DIR

    current = start
    while True:
        candidate = os.path.join(current, DATASTORE_LOCAL_DIR)
        if os.path.isdir(candidate):
            return os.path.realpath(candidate)
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def datastore_root(flow: FlowInfo) -> str | None:
    """The datastore root every task of this flow must share."""
    if flow.datastore_root is not None or flow.datastore != "local":
        return flow.datastore_root
    # Metaflow uses the nearest `.metaflow`, else creates it in its working directory;
    # tasks run in the flow's directory, so resolve from there, once, here.
    found = nearest_local_dir(flow.flow_dir)
    if found is not None:
        return found
    from metaflow.metaflow_config import DATASTORE_LOCAL_DIR

    candidate = os.path.join(flow.flow_dir, DATASTORE_LOCAL_DIR)
    os.makedirs(candidate, exist_ok=True)
    return os.path.realpath(candidate)


def _flow_datastore(flow: FlowInfo) -> Any:
    from metaflow.datastore import FlowDataStore
    from metaflow.plugins import DATASTORES

    impl = next(d for d in DATASTORES if d.TYPE == flow.datastore)
    root = datastore_root(flow)
    if root is None:
        root = impl.get_datastore_root_from_config(lambda *a, **k: None)
    return FlowDataStore(flow.name, None, storage_impl=impl, ds_root=root)


def _latest_datastore(flow: FlowInfo, input_path: str) -> Any:
    """The datastore of a task's latest finished attempt (the one that succeeded)."""
    run_id, step, task_id = input_path.split("/")
    return _flow_datastore(flow).get_task_datastore(run_id, step, task_id, mode="r")


def _task_datastore(flow: FlowInfo, result: TaskResult, step: str) -> Any:
    run_id, _, task_id = result.input_path.split("/")
    return _flow_datastore(flow).get_task_datastore(
        run_id, step, task_id, attempt=result.attempt, mode="r"
    )


def _num_splits(flow: FlowInfo, result: TaskResult, step: str) -> int:
    return _foreach_cardinality(step, _task_datastore(flow, result, step))


def _foreach_cardinality(step: str, tds: Any) -> int:
    num_splits = tds.get("_foreach_num_splits")
    if not isinstance(num_splits, int) or num_splits < 1:
        raise Failure(
            description=f"Step {step!r} finished without a foreach cardinality "
            f"(_foreach_num_splits={num_splits!r})."
        )
    return num_splits


def _num_parallel(flow: FlowInfo, inputs: Sequence[str]) -> int:
    """How many parallel tasks the parent asked for (its `_parallel_ubf_iter`)."""
    [parent] = inputs
    return int(_latest_datastore(flow, parent)["_parallel_ubf_iter"].num_parallel)


def _mapper_tasks(flow: FlowInfo, inputs: Sequence[str]) -> list[str]:
    """A parallel join's inputs: every task the control started, itself included."""
    [control] = inputs
    return list(_latest_datastore(flow, control)["_control_mapper_tasks"])


def _chosen_step(flow: FlowInfo, result: TaskResult, step: str) -> str:
    """The branch a switch task chose, from the attempt that succeeded."""
    transition = _task_datastore(flow, result, step).get("_transition")
    try:
        return str(transition[0][0])
    except (TypeError, IndexError, KeyError):
        raise Failure(
            description=f"Step {step!r} recorded no branch choice "
            f"(_transition={transition!r})."
        ) from None


def _next_attempt(context: OpExecutionContext, flow: FlowInfo, input_path: str) -> int:
    """The task's next attempt number, counting attempts made by earlier Dagster runs.

    Re-executing a failed run from Dagster reuses the root run's Metaflow run id, so a
    re-executed task continues as its next attempt (Metaflow's resume keeps the rest).
    """
    if context.retry_number == 0 and context.run.parent_run_id is None:
        return 0
    from metaflow.exception import MetaflowException

    run_id, step, task_id = input_path.split("/")
    try:
        tds = _flow_datastore(flow).get_task_datastore(
            run_id, step, task_id, mode="r", allow_not_done=True
        )
    except MetaflowException:
        return 0
    attempt = int(tds.attempt) + 1
    if attempt >= METAFLOW_MAX_ATTEMPTS:
        raise Failure(
            description=f"Task {flow.name}/{input_path} already made {attempt} "
            f"attempts; Metaflow allows at most {METAFLOW_MAX_ATTEMPTS}.",
            allow_retries=False,
        )
    return attempt


def _done_attempt(flow: FlowInfo, input_path: str) -> int | None:
    """The latest finished attempt of a task, or None if it never finished one."""
    from metaflow.exception import MetaflowException

    run_id, step, task_id = input_path.split("/")
    try:
        tds = _flow_datastore(flow).get_task_datastore(run_id, step, task_id, mode="r")
    except MetaflowException:
        return None
    return int(tds.attempt)


def _task_ok(flow: FlowInfo, result: TaskResult, step: str) -> bool:
    return bool(_task_datastore(flow, result, step).get("_task_ok"))


def _params_task_done(flow: FlowInfo, run_id: str) -> bool:
    from metaflow.exception import MetaflowException

    try:
        _flow_datastore(flow).get_task_datastore(
            run_id, "_parameters", PARAMS_TASK_ID, mode="r"
        )
    except MetaflowException:
        return False
    return True


def _save_logs(
    flow: FlowInfo,
    target: tuple[str, int],
    streams: Mapping[str, IO[bytes]],
    code: int,
    *,
    killed: bool = False,
) -> None:
    """Persist the task's output the way Metaflow's local runtime does."""
    from metaflow.mflog import RUNTIME_LOG_SOURCE

    pathspec, attempt = target
    run_id, step, task_id = pathspec.split("/")
    data = {}
    for name, stream in streams.items():
        stream.flush()
        stream.seek(0)
        data[name] = stream.read()
    tds = _flow_datastore(flow).get_task_datastore(
        run_id, step, task_id, attempt=attempt, mode="w"
    )
    tds.save_logs(RUNTIME_LOG_SOURCE, data)
    tds.save_metadata(
        {"runtime": {"return_code": code, "killed": killed, "success": code == 0}}
    )


def _save_logs_quietly(
    flow: FlowInfo,
    target: tuple[str, int],
    streams: Mapping[str, IO[bytes]],
    code: int | None,
) -> None:
    # Best effort: the interruption, not a failure to save, is what must propagate.
    with contextlib.suppress(Exception):
        _save_logs(flow, target, streams, -9 if code is None else code, killed=True)


def _task_metadata(flow: FlowInfo, result: TaskResult, step: str) -> dict[str, Any]:
    """Dagster metadata for a task: where it is and what it stored (names only)."""
    pathspec = f"{flow.name}/{result.input_path}"
    # `name` is the flow name Metaflow stores in every task, not a user artifact.
    stored = _task_datastore(flow, result, step)
    names = sorted(n for n in stored if not n.startswith("_") and n != "name")
    snippet = "from metaflow import Task\n\n"
    snippet += f"task = Task({pathspec!r}, attempt={result.attempt})\n"
    for name in names:
        snippet += f"task[{name!r}].data\n"
    return {
        "metaflow pathspec": MetadataValue.text(pathspec),
        "attempt": result.attempt,
        "artifacts": MetadataValue.json(names),
        "retrieve": MetadataValue.md(f"```python\n{snippet}```"),
    }
