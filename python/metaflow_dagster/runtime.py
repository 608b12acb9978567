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
import contextlib
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

from dagster import (
    DynamicOutput,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
)

# [embedded imports: end]

RUNTIME_VERSION = "0.1.0"

# The `_parameters` pseudo-task that `init` creates; one per run (not an integer: the
# metadata providers would treat an integer id as their own allocation).
PARAMS_TASK_ID = "params"
# Metaflow's METAFLOW_EXIT_DISALLOW_RETRY: "this failure must not be retried".
EXIT_DISALLOW_RETRY = 202
# After SIGTERM, how long a step's process group gets before SIGKILL.
KILL_GRACE_SECONDS = 5.0
# Metaflow's own @timeout (SIGALRM inside the task) gets this head start: the op stops
# the step's process group itself only at @timeout + this many seconds after launch.
TIMEOUT_GRACE_SECONDS = 5.0
# How much of a failed command's stderr a Dagster failure message quotes.
STDERR_TAIL_LINES = 20
# The value an untaken branch passes on inside a foreach body, where Dagster cannot
# skip ops per split; ops receiving only this run nothing and pass it on.
NOT_TAKEN = ""
# Metaflow never reads attempts beyond this many (its MAX_ATTEMPTS).
METAFLOW_MAX_ATTEMPTS = 6
# A guard against a loop whose condition never changes (Metaflow has no limit).
MAX_LOOP_ITERATIONS = 10_000


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
    # A switch: branch target step -> the op output that leads there.
    branches: Mapping[str, str] = field(default_factory=dict)
    # A switch that can choose itself: iterations run one after another in its op.
    loop: bool = False
    # A switch in a foreach body: every branch gets an output, untaken ones NOT_TAKEN.
    mapped: bool = False
    # `num_parallel`: the op runs the control task (it starts the workers itself, as
    # in Metaflow's local runtime); the join's inputs are the control's mapper tasks.
    parallel: bool = False
    parallel_join: bool = False
    # Decorators attached at deploy time, forwarded as top-level `--with` options.
    with_specs: tuple[str, ...] = ()
    # @environment variables: Metaflow's runtime sets them around the task, so we do.
    env: Mapping[str, str] = field(default_factory=dict)
    # @timeout in seconds (seconds + 60 * minutes + 3600 * hours): enforced by the op.
    timeout: float | None = None


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
    # --workflow-timeout: seconds from the Dagster run's start; every op enforces it.
    workflow_timeout: float | None = None
    # Config values resolved at create time: name -> (JSON text, plain).
    configs: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    # @trigger_on_finish: the upstream flows' Dagster job names.
    trigger_on_finish: tuple[str, ...] = ()
    # @trigger: event name -> {parameter name: payload field}.
    trigger_events: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

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
    guard: Sequence[str] | None = None,
) -> str:
    """Run one Metaflow task of `step`; return its input path for the next ops."""
    if guard is not None and not inputs:
        # The end op also hangs off the start op so that it cannot be skipped silently.
        raise Failure(
            description=f"Step {step!r} of {flow.name} got none of its inputs: "
            "a branch that should have run was skipped, so the run did not finish."
        )
    live = _taken(context, step, inputs)
    if live is None:
        return NOT_TAKEN
    result = _run_task(context, flow, step, live, params)
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
    num_splits = _num_splits(flow, result, step)
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


def run_switch(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    inputs: Sequence[str] = (),
    *,
    params: Mapping[str, Any] | None = None,
) -> Iterator[Output[str]]:
    """Run a switch step (each iteration, if it loops); yield only the chosen branch."""
    info = flow.steps[step]
    live = _taken(context, step, inputs)
    if live is None:
        for output in sorted(set(info.branches.values())):
            yield Output(NOT_TAKEN, output_name=output)
        return
    inputs = live
    if not info.loop:
        result = _run_task(context, flow, step, inputs, params)
        chosen = _chosen_step(flow, result, step)
        metadata = _task_metadata(flow, result, step)
    else:
        result, chosen, iterations = _run_loop(context, flow, step, inputs, params)
        metadata = _task_metadata(flow, result, step)
        metadata["iterations"] = MetadataValue.json(iterations)
    output = info.branches.get(chosen)
    if output is None:
        raise Failure(
            description=f"Step {step!r} chose {chosen!r}, which is not one of its "
            f"branches {sorted(info.branches)}."
        )
    context.log.info(f"Switch {step!r} chose {chosen!r}.")
    metadata["chosen step"] = chosen
    yield Output(result.input_path, output_name=output, metadata=metadata)
    if info.mapped:
        for other in sorted(set(info.branches.values()) - {output}):
            yield Output(NOT_TAKEN, output_name=other)


def split_again(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    tasks: Sequence[str],
) -> Iterator[DynamicOutput[str]]:
    """A nested foreach's splits, one dynamic output per (outer key, split index)."""
    total = 0
    for path in sorted((t for t in tasks if t != NOT_TAKEN), key=_split_position):
        num_splits = _num_splits(
            flow, TaskResult(path, _done_attempt(flow, path)), step
        )
        width = len(str(num_splits - 1))
        key = _key_of(path)
        for index in range(num_splits):
            total += 1
            yield DynamicOutput(path, mapping_key=f"{key}_{str(index).zfill(width)}")
    context.log.info(f"Foreach {step!r} yields {total} child steps in all.")


def regroup(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    groups: Sequence[Sequence[str]],
) -> Iterator[DynamicOutput[list[str]]]:
    """Inputs of `step` collected across splits, grouped again per split of `step`."""
    info = flow.steps[step]
    per_key: dict[str, list[str]] = {}
    for group in groups:
        for path in group:
            if path == NOT_TAKEN:
                continue
            key = _key_of(path)
            if info.foreach_join:
                # The join closes the innermost foreach: group by the enclosing splits.
                key = key.rpartition("_")[0]
            per_key.setdefault(key, []).append(path)
    for key in sorted(per_key, key=lambda k: _split_position(f"t-{k}")):
        yield DynamicOutput(per_key[key], mapping_key=key)
    context.log.info(f"Step {step!r} runs once for each of {len(per_key)} splits.")


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


def _taken(
    context: OpExecutionContext, step: str, inputs: Sequence[str]
) -> list[str] | None:
    """Inputs from branches that ran; None when this op lies on an untaken branch."""
    live = [path for path in inputs if path != NOT_TAKEN]
    if inputs and not live:
        context.log.info(f"Step {step!r} is on a branch this split did not take.")
        return None
    return live


def _key_of(input_path: str) -> str:
    """The split key in a task id `t[-<key>][-i<iteration>]` ("" at the top level)."""
    parts = input_path.rsplit("/", 1)[-1].split("-")
    return parts[1] if len(parts) > 1 and not parts[1].startswith("i") else ""


def _run_task(
    context: OpExecutionContext,
    flow: FlowInfo,
    step_name: str,
    inputs: Sequence[str],
    params: Mapping[str, Any] | None,
    *,
    task_id: str | None = None,
    attempt: int | None = None,
) -> TaskResult:
    step = flow.steps[step_name]
    run_id = metaflow_run_id(context)
    task_id = task_id or _task_id(context)
    if attempt is None:
        attempt = _next_attempt(context, flow, f"{run_id}/{step_name}/{task_id}")
    root = datastore_root(flow)
    if step_name == flow.start_step and not inputs:
        inputs = [_init_run(context, flow, run_id, root, params or {})]
    elif step.parallel_join:
        inputs = _mapper_tasks(flow, inputs)
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
    if step.parallel:
        args += ["--ubf-context", "ubf_control", "--split-index", "0"]
        args += ["--num-parallel", str(_num_parallel(flow, inputs))]
    elif split_index is not None:
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
        log_target=(pathspec, attempt),
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
    return tuple(int(part) for part in _key_of(input_path).split("_") if part.isdigit())


def _run_loop(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    inputs: Sequence[str],
    params: Mapping[str, Any] | None,
) -> tuple[TaskResult, str, list[str]]:
    """Iterate a self-looping switch: each iteration is a task fed by the previous one.

    Iterations that already succeeded (before a retry of this op) are not run again.
    """
    base = _task_id(context)
    iterations: list[str] = []
    previous = list(inputs)
    for n in range(MAX_LOOP_ITERATIONS):
        path = f"{metaflow_run_id(context)}/{step}/{base}-i{n}"
        done = _done_attempt(flow, path)
        if done is not None and _task_ok(flow, TaskResult(path, done), step):
            result = TaskResult(path, done)
        else:
            attempt = 0 if done is None else done + 1
            result = _run_task(
                context,
                flow,
                step,
                previous,
                params if n == 0 else None,
                task_id=f"{base}-i{n}",
                attempt=attempt,
            )
        iterations.append(f"{flow.name}/{path}")
        chosen = _chosen_step(flow, result, step)
        context.log.info(f"Iteration {n} of {step!r} ({path}) chose {chosen!r}.")
        if chosen != step:
            return result, chosen, iterations
        previous = [result.input_path]
    raise Failure(
        description=f"Step {step!r} looped {MAX_LOOP_ITERATIONS} times without exiting."
    )


def _init_run(
    context: OpExecutionContext,
    flow: FlowInfo,
    run_id: str,
    root: str | None,
    params: Mapping[str, Any],
) -> str:
    """Create the run's `_parameters` task once, even when the start op retries."""
    path = f"{run_id}/_parameters/{PARAMS_TASK_ID}"
    if _params_task_done(flow, run_id):
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
        # None means "use the default"; an empty string is a value, as natively.
        if value is None:
            continue
        if kind == "json":
            # Values arrive decoded (a JSON string parameter is a str): encode all.
            text = json.dumps(value)
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
    # Set when the op stopped the command at a time limit: why.
    stopped: str | None = None

    def reason(self) -> str:
        tail = self.stderr_tail.strip()
        head = f"exit code {self.code}"
        if self.code < 0:
            with contextlib.suppress(ValueError):
                name = signal.Signals(-self.code).name
                head = f"killed by signal {name} (exit code {self.code})"
        if self.stopped is not None:
            head = f"{self.stopped} (exit code {self.code})"
        return head + (f"; its stderr ended with:\n{tail}" if tail else "")


def _launch(
    context: OpExecutionContext,
    flow: FlowInfo,
    args: list[str],
    run_id: str,
    *,
    extra_env: Mapping[str, str] | None = None,
    log_target: tuple[str, int] | None = None,
) -> Exited:
    """Run a Metaflow command in its own session; stream and persist its output."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PYTHONUNBUFFERED"] = "x"
    env["METAFLOW_RUN_ID"] = run_id
    # Metaflow starts helpers (e.g. @parallel workers) as `python` from PATH: make that
    # the interpreter running Dagster, as an activated virtualenv would.
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
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
        env.update(_deploy_env(context, flow, tmp))
        limit = _limit(context, flow, log_target)
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
            stopped = None
            try:
                code = _wait(proc, None if limit is None else limit.at)
            except subprocess.TimeoutExpired:
                code, stopped = proc.returncode, limit
            except BaseException:
                # Terminated (the run was cancelled): the group is dead; record the
                # attempt as killed with what it printed, as Metaflow's runtime does.
                if log_target is not None:
                    _save_logs_quietly(flow, log_target, streams, proc.returncode)
                raise
            for pump in pumps:
                pump.join()
            if log_target is not None:
                _save_logs(flow, log_target, streams, code, killed=stopped is not None)
            if stopped is not None and not stopped.retry:
                raise Failure(description=stopped.message, allow_retries=False)
            return Exited(code, "".join(tail), stopped and stopped.message)
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


def _wait(proc: subprocess.Popen[bytes], until: float | None = None) -> int:
    """Wait for the step; if the op is interrupted, kill the step's process group.

    At `until` (a time.monotonic() value) the whole group is killed as well, then
    subprocess.TimeoutExpired is raised.
    """
    try:
        if until is None:
            return proc.wait()
        return proc.wait(timeout=max(until - time.monotonic(), 0.0))
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


# ---------------------------------------------------------------------------------
# Deploy-time decorators and options: Config values, time limits, triggers
#
# Config values: as Metaflow's own runtime does for `python flow.py run`, every command
# gets `--config-value <name> kv.<name>` (through METAFLOW_FLOW_CONFIG_VALUE) and reads
# the values from a `--local-config-file` (METAFLOW_LOCAL_CONFIG_FILE) written here.
# @trigger_on_finish: the upstream run (tag TRIGGER_TAG) reaches every command as
# `--trigger <Flow/run>` (METAFLOW_FLOW_TRIGGER), so `current.trigger` works as usual.

# Run tag naming the upstream Metaflow run(s) that triggered a run (space separated).
TRIGGER_TAG = "metaflow/trigger"
# Run tag listing the Metaflow events that triggered a run (JSON).
EVENTS_TAG = "metaflow/events"
# A Metaflow event N is a Dagster asset event on AssetKey([EVENT_ASSET_PREFIX, N]).
EVENT_ASSET_PREFIX = "metaflow_event"
# How many status changes or asset events a sensor reads per tick.
SENSOR_BATCH = 100


def _deploy_env(
    context: OpExecutionContext, flow: FlowInfo, tmp: str
) -> dict[str, str]:
    """Variables that hand deploy-time values to a Metaflow command (`tmp`: its dir)."""
    env: dict[str, str] = {}
    if flow.configs:
        path = os.path.join(tmp, "config.json")
        values = {
            name: [json.loads(text), plain]
            for name, (text, plain) in flow.configs.items()
        }
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"user_configs": values}, f)
        env["METAFLOW_LOCAL_CONFIG_FILE"] = path
        env["METAFLOW_FLOW_CONFIG_VALUE"] = json.dumps(
            {n: f"kv.{n}" for n in flow.configs}
        )
    trigger = context.run.tags.get(TRIGGER_TAG)
    if flow.trigger_on_finish and trigger:
        env["METAFLOW_FLOW_TRIGGER"] = trigger
    return env


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


def upstream_finished(context: Any, flow: FlowInfo) -> Any:
    """@trigger_on_finish: one run per successful Metaflow run of the upstream job(s).

    Reads RUN_SUCCESS events after the cursor (its first tick only records where "now"
    is: runs that finished before the sensor existed never trigger). With several
    upstream flows, a run starts once each of them finished since the last run. The run
    key is the upstream Metaflow run pathspec(s): a re-executed upstream run (same
    Metaflow run) does not trigger twice.
    """
    from dagster import (
        DagsterEventType,
        RunRequest,
        RunStatusChangeRecordsFilter,
        SensorResult,
    )

    instance = context.instance
    state = json.loads(context.cursor) if context.cursor else None
    if state is None:
        latest = instance.fetch_run_status_changes(
            DagsterEventType.RUN_SUCCESS, limit=1
        ).records
        after = latest[0].storage_id if latest else 0
        return SensorResult(cursor=json.dumps({"after": after, "pending": {}}))
    pending: dict[str, str] = state["pending"]
    records = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(
            event_type=DagsterEventType.RUN_SUCCESS, after_storage_id=state["after"]
        ),
        limit=SENSOR_BATCH,
        ascending=True,
    ).records
    requests = []
    after = state["after"]
    for record in records:
        after = record.storage_id
        job_name = record.event_log_entry.job_name
        if job_name not in flow.trigger_on_finish:
            continue
        run = instance.get_run_by_id(record.event_log_entry.run_id)
        upstream_flow = None if run is None else run.tags.get("metaflow/flow")
        if run is None or upstream_flow is None:
            context.log.warning(f"Run of {job_name} has no Metaflow flow tag; ignored.")
            continue
        pending[job_name] = f"{upstream_flow}/dagster-{run.root_run_id or run.run_id}"
        if all(name in pending for name in flow.trigger_on_finish):
            runs = " ".join(pending[name] for name in flow.trigger_on_finish)
            context.log.info(f"{runs} finished: starting {flow.name}.")
            requests.append(RunRequest(run_key=runs, tags={TRIGGER_TAG: runs}))
            pending = {}
    return SensorResult(
        run_requests=requests,
        cursor=json.dumps({"after": after, "pending": pending}),
    )


def events_arrived(context: Any, flow: FlowInfo, start_op: str | None) -> Any:
    """@trigger: one run per arrival of the flow's Metaflow event(s).

    A Metaflow event N is an asset materialization of AssetKey(["metaflow_event", N])
    (e.g. reported with `instance.report_runless_asset_event`); its metadata entries
    are the event's payload. Payload fields become the start op's parameters through
    the decorator's mapping. Events before the sensor's first tick are not used; with
    several events, a run starts once each of them arrived since the last run (the
    latest payload of each counts).
    """
    from dagster import AssetKey, AssetRecordsFilter, RunRequest, SensorResult

    instance = context.instance
    state = json.loads(context.cursor) if context.cursor else None
    keys = {name: AssetKey([EVENT_ASSET_PREFIX, name]) for name in flow.trigger_events}
    if state is None:
        after = {}
        for name, key in keys.items():
            latest = instance.fetch_materializations(key, limit=1).records
            after[name] = latest[0].storage_id if latest else 0
        return SensorResult(cursor=json.dumps({"after": after, "pending": {}}))
    after, pending = state["after"], state["pending"]
    arrivals = []
    for name, key in keys.items():
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, after_storage_id=after.get(name, 0)),
            limit=SENSOR_BATCH,
            ascending=True,
        ).records
        for record in records:
            arrivals.append((record.storage_id, name, record))
            after[name] = record.storage_id
    requests = []
    for storage_id, name, record in sorted(arrivals, key=lambda a: a[0]):
        metadata = record.asset_materialization.metadata
        payload = {k: getattr(v, "value", v) for k, v in metadata.items()}
        pending[name] = {
            "id": storage_id,
            "timestamp": record.timestamp,
            "payload": payload,
        }
        if not all(n in pending for n in flow.trigger_events):
            continue
        try:
            config = _event_parameters(flow, pending)
        except (TypeError, ValueError) as exc:
            context.log.error(f"Events {sorted(pending)} not used: {exc}")
            pending = {}
            continue
        run_config = {}
        if config and start_op is not None:
            run_config = {"ops": {start_op: {"config": config}}}
        events = [
            {
                "name": n,
                "id": str(pending[n]["id"]),
                "timestamp": pending[n]["timestamp"],
            }
            for n in flow.trigger_events
        ]
        key = " ".join(f"{e['name']}:{e['id']}" for e in events)
        context.log.info(f"Events {key} arrived: starting {flow.name}.")
        requests.append(
            RunRequest(
                run_key=key,
                run_config=run_config,
                tags={EVENTS_TAG: json.dumps(events)},
            )
        )
        pending = {}
    return SensorResult(
        run_requests=requests,
        cursor=json.dumps({"after": after, "pending": pending}),
    )


def _event_parameters(flow: FlowInfo, pending: Mapping[str, Any]) -> dict[str, Any]:
    """Start op config from event payloads, typed like the flow's Parameters."""
    config: dict[str, Any] = {}
    for event, mapping in flow.trigger_events.items():
        payload = pending[event]["payload"]
        for param, payload_field in mapping.items():
            if payload_field not in payload or payload[payload_field] is None:
                continue  # the parameter keeps its default, as under Argo Events
            value = payload[payload_field]
            kind = flow.parameters.get(param, "str")
            if kind == "int":
                value = int(value)
            elif kind == "float":
                value = float(value)
            elif kind == "bool" and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(f"{param}: {value!r} is not a boolean")
                value = value.lower() in ("true", "1", "yes")
            elif kind == "bool":
                value = bool(value)
            elif kind == "str":
                value = value if isinstance(value, str) else json.dumps(value)
            config[param] = value
    return config
