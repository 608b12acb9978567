"""Reading task results from the datastore, as Metaflow's own runtime does."""

import contextlib
import importlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from dagster import Failure, MetadataValue, OpExecutionContext

from .keys import Frame
from .model import METAFLOW_MAX_ATTEMPTS, PARAMS_TASK_ID, FlowInfo, TaskResult
from .stores import flow_store, keep_done, kept_done

# ---------------------------------------------------------------------------------
# Importing Metaflow, once per process

# What the runtime imports from Metaflow (`import metaflow` imports them all today;
# naming them keeps the first import complete if a later Metaflow defers some).
METAFLOW_MODULES = (
    "metaflow",
    "metaflow.metaflow_config",
    "metaflow.exception",
    "metaflow.util",
    "metaflow.datastore",
    "metaflow.plugins",
    "metaflow.mflog",
)
_metaflow_lock = threading.Lock()
_metaflow_imported = False


def import_metaflow() -> None:
    """Import Metaflow, once per process, before anything of the runtime uses it.

    The thread executor runs ops as threads of one process. When several start at once
    in a process that has not imported Metaflow yet (a re-execution's failed foreach
    splits), each would import it at the same moment, and Metaflow's modules import
    each other in cycles: CPython's per-module import locks then break the deadlock by
    handing a thread a partially initialised module ("cannot import name
    'FlowDataStore' from partially initialized module 'metaflow.datastore'"), and a
    module whose import failed half-way stays broken for every later op of the process.
    Every Metaflow import of the runtime happens after this (each op calls it through
    `_run_task` or the datastore readers below before anything else touches Metaflow),
    so only one thread ever imports Metaflow; for the others it is already in
    sys.modules, complete.
    """
    global _metaflow_imported
    if _metaflow_imported:
        return
    with _metaflow_lock:
        if not _metaflow_imported:
            for name in METAFLOW_MODULES:
                importlib.import_module(name)
            _metaflow_imported = True


# ---------------------------------------------------------------------------------
# Datastore access (the same layer Metaflow's own runtime reads task results from)


def nearest_local_dir(start: str) -> str | None:
    """The `.metaflow` directory Metaflow finds from `start` upwards (real), if any.

    Metaflow looks this way from its working directory for the local datastore, local
    cards and the local config; tasks run in the flow's directory.
    """
    import_metaflow()
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
    """The flow's datastore, one per process (stores.py says why)."""
    import_metaflow()
    return flow_store(flow, datastore_root(flow))


def _latest_datastore(flow: FlowInfo, input_path: str) -> Any:
    """The datastore of a task's latest finished attempt (the one that succeeded)."""
    run_id, step, task_id = input_path.split("/")
    return _flow_datastore(flow).get_task_datastore(run_id, step, task_id, mode="r")


def _task_datastore(flow: FlowInfo, result: TaskResult, step: str) -> Any:
    """A done attempt's datastore (read once: _unfinished keeps what it read)."""
    run_id, _, task_id = result.input_path.split("/")
    store = _flow_datastore(flow)
    pathspec = f"{run_id}/{step}/{task_id}"
    kept = kept_done(store, pathspec, result.attempt)
    if kept is not None:
        return kept
    tds = store.get_task_datastore(
        run_id, step, task_id, attempt=result.attempt, mode="r"
    )
    keep_done(store, pathspec, result.attempt, tds)
    return tds


def _foreach_cardinality(step: str, tds: Any) -> int:
    num_splits = tds.get("_foreach_num_splits")
    if not isinstance(num_splits, int) or num_splits < 1:
        raise Failure(
            description=f"Step {step!r} finished without a foreach cardinality "
            f"(_foreach_num_splits={num_splits!r})."
        )
    return num_splits


def _item_values(tds: Any, num_splits: int) -> dict[int, str | None]:
    """A foreach task's item values by split index (keys.py), as Metaflow recorded them
    (`_foreach_values`); none where it did not."""
    try:
        values = tds.get("_foreach_values")
    except Exception:  # noqa: BLE001 (labels only: never fail a task for them)
        values = None
    if not isinstance(values, list) or len(values) != num_splits:
        return dict.fromkeys(range(num_splits))
    return {i: v if isinstance(v, str) else None for i, v in enumerate(values)}


def _foreach_frames(tds: Any) -> list[Frame] | None:
    """The foreach splits a task is in (keys.Frame, outermost first), from Metaflow's
    `_foreach_stack`; None if it cannot be read."""
    try:
        return [
            (int(f.index), int(f.num_splits), getattr(f, "value", None))
            for f in tds.get("_foreach_stack") or []
        ]
    except Exception:  # noqa: BLE001 (labels only: never fail a task for them)
        return None


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
    import_metaflow()
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
    import_metaflow()
    from metaflow.exception import MetaflowException

    run_id, step, task_id = input_path.split("/")
    try:
        tds = _flow_datastore(flow).get_task_datastore(run_id, step, task_id, mode="r")
    except MetaflowException:
        return None
    return int(tds.attempt)


def _unfinished(flow: FlowInfo, result: TaskResult, step: str) -> str | None:
    """Why this attempt is not done by what Metaflow recorded for it, or None if done.

    A process that exits 0 has not necessarily finished its task: `sys.exit(0)` in a
    step still lets Metaflow write the attempt out (without `_task_ok` or a
    transition), `os._exit(0)` writes nothing. Metaflow's runtime reads the attempt's
    results (which must be done: its DONE marker, written last) and checks the
    recorded `_transition` against the graph (runtime.py, Worker.terminate and
    _queue_tasks); its messages are reused. `_task_ok` is checked too: for the end
    step no transition is expected, and native `run` would report such a run done
    though Run.successful is False; here the op fails, so the Dagster run does too.
    """
    run_id, _, task_id = result.input_path.split("/")
    store = _flow_datastore(flow)
    tds = store.get_task_datastore(
        run_id, step, task_id, attempt=result.attempt, mode="r", allow_not_done=True
    )
    if not tds.has_metadata(tds.METADATA_DONE_SUFFIX):
        return (
            "No completed attempts of the task was found for task "
            f"'{flow.name}/{result.input_path}' (attempt {result.attempt} has no DONE "
            "marker: its process exited before Metaflow finished the task)"
        )
    # Done: what it holds is what a fresh read would give (stores.py).
    keep_done(store, f"{run_id}/{step}/{task_id}", result.attempt, tds)
    transition = tds.get("_transition")
    actual = [str(name) for name in transition[0]] if transition else []
    switch, expected = _successors(tds.get("_graph_info"), step)
    problems = []
    if switch and len(actual) != 1:
        problems.append(
            f"Switch step *{step}* should transition to exactly one step at "
            f"runtime, but got: {', '.join(actual)}"
        )
    elif switch and actual[0] not in expected:
        problems.append(
            f"Switch step *{step}* transitioned to unexpected step *{actual[0]}*. "
            f"Expected one of: {', '.join(expected)}"
        )
    elif not switch and actual != expected:
        problems.append(
            f"Based on static analysis of the code, step *{step}* was expected to "
            f"transition to step(s) *{', '.join(expected)}*. However, when the code "
            f"was executed, self.next() was called with *{', '.join(actual)}*. Make "
            "sure there is only one unconditional self.next() call in the end of "
            "your step."
        )
    task_ok = tds.get("_task_ok")
    if task_ok is not True:
        problems.append(
            f"Metaflow recorded the attempt as not successful (_task_ok={task_ok!r}): "
            "the step did not run to its end"
        )
    return " ".join(problems) or None


def _successors(graph_info: Any, step: str) -> tuple[bool, list[str]]:
    """Whether `step` is a switch, and the steps it may go to, from the graph every
    task stores (`_graph_info`, the static graph Metaflow's runtime checks against;
    the runtime's StepInfo knows a switch's branches, not other steps' successors)."""
    steps = graph_info.get("steps") if isinstance(graph_info, dict) else None
    node = steps.get(step) if isinstance(steps, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get("next"), list):
        raise Failure(
            description=f"The task of step {step!r} stored no graph (_graph_info) "
            "to check its transition against.",
            allow_retries=False,
        )
    return node.get("type") == "split-switch", [str(n) for n in node["next"]]


def _params_task_done(flow: FlowInfo, run_id: str) -> bool:
    import_metaflow()
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
    import_metaflow()
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
    names = user_artifacts(_task_datastore(flow, result, step))
    snippet = "from metaflow import Task\n\n"
    snippet += f"task = Task({pathspec!r}, attempt={result.attempt})\n"
    for name in names:
        snippet += f"task[{name!r}].data\n"
    metadata = {
        "metaflow pathspec": MetadataValue.text(pathspec),
        "attempt": result.attempt,
        "artifacts": MetadataValue.json(names),
        "retrieve": MetadataValue.md(f"```python\n{snippet}```"),
    }
    link = metaflow_ui_link(pathspec)
    if link is not None:
        metadata["metaflow ui"] = MetadataValue.url(link)
    return metadata


def user_artifacts(names: Iterable[str]) -> list[str]:
    """The user's artifacts among a task's, sorted: not Metaflow's own (`_...`, and
    `name`, the flow name Metaflow stores in every task)."""
    return sorted(n for n in names if not n.startswith("_") and n != "name")


def metaflow_ui_link(pathspec: str) -> str | None:
    """A run or task in the Metaflow UI (`<UI>/<flow>/<run>[/<step>/<task>]`), when its
    address is configured (METAFLOW_UI_URL), as Metaflow's Argo integration links it."""
    import_metaflow()
    from metaflow.metaflow_config import UI_URL

    return f"{UI_URL.rstrip('/')}/{pathspec}" if UI_URL else None
