"""Run Metaflow tasks from Dagster ops.

Every generated definitions file embeds this module verbatim, so a generated file needs
only `dagster` and `metaflow` at run time. Ops hand each other small strings (Metaflow
input paths, `run/step/task`), never data. Importing this module must stay cheap: the
multiprocess executor imports the generated file once per op, so Metaflow is imported
lazily, inside the functions that need it.
"""

# No `from __future__ import annotations`: Dagster reads op annotations at definition
# time and rejects string annotations for `context`; generated files must not use it.
# [embedded imports: begin]
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from dagster import DynamicOutput, Failure, MetadataValue, OpExecutionContext

# [embedded imports: end]

RUNTIME_VERSION = "0.1.0"

# The `_parameters` pseudo-task that `init` creates; one per run (not an integer: the
# metadata providers would treat an integer id as their own allocation).
PARAMS_TASK_ID = "params"
# Metaflow's METAFLOW_EXIT_DISALLOW_RETRY: "this failure must not be retried".
EXIT_DISALLOW_RETRY = 202
# After SIGTERM, how long a step's process group gets before SIGKILL.
KILL_GRACE_SECONDS = 5.0
# How much of a failed command's stderr a Dagster failure message quotes.
STDERR_TAIL_LINES = 20


@dataclass(frozen=True)
class StepInfo:
    """What the runtime must know about one Metaflow step."""

    name: str
    # Directly after a foreach: the task gets `--split-index` (from its mapping key).
    split: bool = False
    # Attempts allowed are user + error retries + 1 (Metaflow's rule).
    user_retries: int = 0
    error_retries: int = 0
    # A foreach join: its inputs are passed in split order.
    foreach_join: bool = False
    # Decorators attached at deploy time, forwarded as top-level `--with` options.
    with_specs: tuple[str, ...] = ()
    # @environment variables: Metaflow's runtime sets them around the task, so we do.
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FlowInfo:
    """Everything baked into a generated file at `create` time."""

    name: str
    # The flow file, relative to the generated file (`anchor`).
    file: str
    anchor: str
    start_step: str
    end_step: str
    steps: Mapping[str, StepInfo]
    top_level_args: tuple[str, ...] = ()
    datastore: str = "local"
    # None: resolve like Metaflow does, from the flow's directory upwards.
    datastore_root: str | None = None
    metadata: str = "local"
    tags: tuple[str, ...] = ()
    namespace: str | None = None
    owner: str | None = None
    # Parameter name -> type ("str", "int", "float", "bool", "json").
    parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def flow_dir(self) -> str:
        return os.path.dirname(self.flow_path)

    @property
    def flow_path(self) -> str:
        here = os.path.dirname(os.path.abspath(self.anchor))
        return os.path.normpath(os.path.join(here, self.file))


@dataclass(frozen=True)
class TaskResult:
    """A finished, successful Metaflow task attempt."""

    input_path: str  # run/step/task, as later tasks name their inputs
    attempt: int


# ---------------------------------------------------------------------------------
# Entry points called by generated ops


def run_step(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    inputs: Sequence[str] = (),
    *,
    params: Mapping[str, Any] | None = None,
) -> str:
    """Run one Metaflow task of `step`; return its input path for the next ops."""
    result = _run_task(context, flow, step, inputs, params)
    context.add_output_metadata(_task_metadata(flow, result, step))
    return result.input_path


def fan_out(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    inputs: Sequence[str] = (),
    *,
    params: Mapping[str, Any] | None = None,
) -> Iterator[DynamicOutput[str]]:
    """Run a foreach step, then yield one dynamic output per split, in split order."""
    result = _run_task(context, flow, step, inputs, params)
    num_splits = _task_datastore(flow, result, step).get("_foreach_num_splits")
    if not isinstance(num_splits, int) or num_splits < 1:
        raise Failure(
            description=f"Step {step!r} finished without a foreach cardinality "
            f"(_foreach_num_splits={num_splits!r})."
        )
    context.log.info(f"Foreach yields {num_splits} child steps.")
    metadata = _task_metadata(flow, result, step)
    width = len(str(num_splits - 1))
    for index in range(num_splits):
        # Zero-padded keys sort like split indexes in the UI.
        key = str(index).zfill(width)
        yield DynamicOutput(
            result.input_path,
            mapping_key=key,
            metadata=metadata if index == 0 else {"split index": index},
        )


# ---------------------------------------------------------------------------------
# One task: ids, command line, subprocess, logs


def metaflow_run_id(context: OpExecutionContext) -> str:
    """The Metaflow run id of a Dagster run: re-executions share their root run's id."""
    run = context.run
    return "dagster-" + (run.root_run_id or run.run_id)


def _task_id(context: OpExecutionContext) -> str:
    # Unique per (run, step) and stable across retries: the op's mapping key, if any.
    key = context.get_mapping_key()
    return "t" if key is None else f"t-{key}"


def _run_task(
    context: OpExecutionContext,
    flow: FlowInfo,
    step_name: str,
    inputs: Sequence[str],
    params: Mapping[str, Any] | None,
) -> TaskResult:
    step = flow.steps[step_name]
    run_id = metaflow_run_id(context)
    task_id = _task_id(context)
    attempt = context.retry_number
    root = datastore_root(flow)
    if step_name == flow.start_step:
        inputs = [_init_run(context, flow, run_id, root, params or {})]
    elif step.foreach_join:
        inputs = sorted(inputs, key=_split_position)
    split_index = None
    if step.split:
        key = context.get_mapping_key()
        if key is None:
            raise Failure(
                description=f"Step {step_name!r} needs a foreach split index."
            )
        split_index = int(key.rsplit("_", 1)[-1])
    args = [
        *_top_level_args(flow, root, step.with_specs),
        "step",
        step_name,
        "--run-id",
        run_id,
        "--task-id",
        task_id,
        "--retry-count",
        str(attempt),
        "--max-user-code-retries",
        str(step.user_retries),
        "--input-paths",
        _compress(inputs),
    ]
    if split_index is not None:
        args += ["--split-index", str(split_index)]
    for tag in flow.tags:
        args += ["--tag", tag]
    if flow.namespace is not None:
        args += ["--namespace", flow.namespace]
    pathspec = f"{run_id}/{step_name}/{task_id}"
    exited = _launch(
        context,
        flow,
        args,
        run_id,
        extra_env=step.env,
        log_target=(root, pathspec, attempt),
    )
    if exited.code != 0:
        raise Failure(
            description=f"Metaflow task {flow.name}/{pathspec} (attempt {attempt}) "
            f"failed: {exited.reason()}",
            metadata={
                "metaflow pathspec": f"{flow.name}/{pathspec}",
                "exit code": exited.code,
            },
            allow_retries=exited.code != EXIT_DISALLOW_RETRY,
        )
    return TaskResult(input_path=pathspec, attempt=attempt)


def _split_position(input_path: str) -> tuple[int, ...]:
    """A foreach task's position among its siblings, from its task id `t-<key>`."""
    key = input_path.rsplit("/", 1)[-1].partition("-")[2]
    return tuple(int(part) for part in key.split("_") if part.isdigit())


def _init_run(
    context: OpExecutionContext,
    flow: FlowInfo,
    run_id: str,
    root: str | None,
    params: Mapping[str, Any],
) -> str:
    """Create the run's `_parameters` task once, even when the start op retries."""
    path = f"{run_id}/_parameters/{PARAMS_TASK_ID}"
    if _params_task_done(flow, root, run_id):
        context.log.info(f"Parameters task {path} exists; not initialising again.")
        return path
    args = [*_top_level_args(flow, root, ()), "init", "--run-id", run_id]
    args += ["--task-id", PARAMS_TASK_ID]
    for tag in flow.tags:
        args += ["--tag", tag]
    env = parameter_env(flow, params)
    exited = _launch(context, flow, args, run_id, extra_env=env)
    if exited.code != 0:
        raise Failure(
            description=f"Metaflow init of {flow.name}/{run_id} failed "
            f"(check the parameter values): {exited.reason()}",
            allow_retries=False,
        )
    return path


def parameter_env(flow: FlowInfo, params: Mapping[str, Any]) -> dict[str, str]:
    """Parameter values as the `METAFLOW_INIT_<NAME>` variables `init` reads."""
    env: dict[str, str] = {}
    for name, value in params.items():
        kind = flow.parameters.get(name)
        if kind is None:
            raise Failure(description=f"{flow.name} has no parameter {name!r}.")
        # Metaflow reads an empty value as an error, not as "use the default".
        if value is None or (kind != "json" and value == ""):
            continue
        if kind == "json":
            text = value if isinstance(value, str) else json.dumps(value)
        elif kind == "float":
            text = repr(float(value))
        elif kind == "bool":
            text = "true" if value else "false"
        else:
            text = str(value)
        env["METAFLOW_INIT_" + name.upper().replace("-", "_")] = text
    return env


def _top_level_args(
    flow: FlowInfo, root: str | None, with_specs: Sequence[str]
) -> list[str]:
    args = [sys.executable, flow.flow_path, *flow.top_level_args]
    if root is not None:
        args.append("--datastore-root=" + root)
    for spec in with_specs:
        args += ["--with", spec]
    return args


def _compress(paths: Sequence[str]) -> str:
    from metaflow.util import compress_list

    return compress_list(list(paths))


@dataclass(frozen=True)
class Exited:
    """How a Metaflow command ended, with the end of its stderr for error messages."""

    code: int
    stderr_tail: str

    def reason(self) -> str:
        tail = self.stderr_tail.strip()
        return f"exit code {self.code}" + (
            f"; its stderr ended with:\n{tail}" if tail else ""
        )


def _launch(
    context: OpExecutionContext,
    flow: FlowInfo,
    args: list[str],
    run_id: str,
    *,
    extra_env: Mapping[str, str] | None = None,
    log_target: tuple[str | None, str, int] | None = None,
) -> Exited:
    """Run a Metaflow command in its own session; stream and persist its output."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PYTHONUNBUFFERED"] = "x"
    env["METAFLOW_RUN_ID"] = run_id
    if not _has_metaflow_user(env):
        # Metaflow refuses to run for an unknown user (e.g. a worker running as root).
        env["METAFLOW_USER"] = "dagster"
    if flow.owner is not None:
        # @project user branches follow whoever ran `create`, not the Dagster worker.
        env["METAFLOW_OWNER"] = flow.owner
    context.log.info("Running: " + shlex.join(args))
    with tempfile.TemporaryDirectory(prefix="mfdagster-") as tmp:
        streams = {
            "stdout": open(os.path.join(tmp, "stdout"), "w+b"),  # noqa: SIM115
            "stderr": open(os.path.join(tmp, "stderr"), "w+b"),  # noqa: SIM115
        }
        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        try:
            proc = subprocess.Popen(
                args,
                cwd=flow.flow_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            pumps = [
                _pump(proc.stdout, sys.stdout, streams["stdout"], None),
                _pump(proc.stderr, sys.stderr, streams["stderr"], tail),
            ]
            code = _wait(proc)
            for pump in pumps:
                pump.join()
            if log_target is not None:
                _save_logs(flow, log_target, streams, code)
            return Exited(code, "".join(tail))
        finally:
            for stream in streams.values():
                stream.close()


def _has_metaflow_user(env: Mapping[str, str]) -> bool:
    # As Metaflow's get_username(): METAFLOW_USER, SUDO_USER, USERNAME, USER; not root.
    names = ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER")
    return any(env.get(n) and env.get(n) != "root" for n in names)


def _pump(
    source: IO[bytes] | None,
    echo: IO[str],
    keep: IO[bytes],
    tail: deque[str] | None,
) -> threading.Thread:
    """Copy a child's stream line by line: live to this process, stamped to a file."""

    def run() -> None:
        assert source is not None
        for raw in iter(source.readline, b""):
            text = raw.decode("utf-8", errors="replace")
            echo.write(text)
            echo.flush()
            keep.write(_mflog_line(raw))
            if tail is not None:
                tail.append(text)
        source.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _mflog_line(raw: bytes) -> bytes:
    from metaflow.mflog import RUNTIME_LOG_SOURCE
    from metaflow.mflog.mflog import decorate, is_structured

    # Lines the task already structured were persisted by the task itself.
    if is_structured(raw):
        return b""
    if not raw.endswith(b"\n"):
        raw += b"\n"
    return decorate(RUNTIME_LOG_SOURCE, raw)


def _wait(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the step; if the op is interrupted, kill the step's process group."""
    try:
        return proc.wait()
    except BaseException:
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ---------------------------------------------------------------------------------
# Datastore access (the same layer Metaflow's own runtime reads task results from)


def datastore_root(flow: FlowInfo) -> str | None:
    """The datastore root every task of this flow must share."""
    if flow.datastore_root is not None or flow.datastore != "local":
        return flow.datastore_root
    # Metaflow looks for `.metaflow` from the working directory upwards, else creates
    # it there; tasks run in the flow's directory, so resolve from there, once, here.
    current = flow.flow_dir
    while True:
        candidate = os.path.join(current, ".metaflow")
        if os.path.isdir(candidate):
            return os.path.realpath(candidate)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    candidate = os.path.join(flow.flow_dir, ".metaflow")
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


def _task_datastore(flow: FlowInfo, result: TaskResult, step: str) -> Any:
    run_id, _, task_id = result.input_path.split("/")
    return _flow_datastore(flow).get_task_datastore(
        run_id, step, task_id, attempt=result.attempt, mode="r"
    )


def _params_task_done(flow: FlowInfo, root: str | None, run_id: str) -> bool:
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
    target: tuple[str | None, str, int],
    streams: Mapping[str, IO[bytes]],
    code: int,
) -> None:
    """Persist the task's output the way Metaflow's local runtime does."""
    from metaflow.mflog import RUNTIME_LOG_SOURCE

    _, pathspec, attempt = target
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
        {"runtime": {"return_code": code, "killed": False, "success": code == 0}}
    )


def _task_metadata(flow: FlowInfo, result: TaskResult, step: str) -> dict[str, Any]:
    """Dagster metadata for a task: where it is and what it stored (names only)."""
    pathspec = f"{flow.name}/{result.input_path}"
    names = sorted(
        n for n in _task_datastore(flow, result, step) if not n.startswith("_")
    )
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
