"""Running a Metaflow command: its own session, live logs, time limits, cleanup."""

import contextlib
import inspect
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from dagster import DagsterExecutionInterruptedError, Failure, OpExecutionContext

from .datastore import _save_logs, _save_logs_quietly
from .limits import WATCH_SECONDS, _limit, _run_stopping
from .model import (
    KILL_GRACE_SECONDS,
    PUMP_DRAIN_SECONDS,
    STDERR_SCAN_LINES,
    STDERR_TAIL_LINES,
    TRIGGER_TAG,
    TRUNCATED_LOG_LINE,
    FlowInfo,
)
from .running import (
    arm_reaper,
    disarm_reaper,
    echo_streams,
    run_cancelled,
    start_reaper,
    tracked,
)

# ---------------------------------------------------------------------------------
# A Metaflow command: command line, subprocess, live logs, time limits


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
    # The last STDERR_SCAN_LINES lines; reason() quotes the last STDERR_TAIL_LINES.
    stderr_tail: str
    # Set when the op stopped the command at a time limit: why.
    stopped: str | None = None
    # Set when the command's output could not be persisted to the datastore: why.
    unsaved: str | None = None

    def reason(self) -> str:
        tail = "\n".join(self.stderr_tail.strip().splitlines()[-STDERR_TAIL_LINES:])
        head = f"exit code {self.code}"
        if self.code < 0:
            with contextlib.suppress(ValueError):
                name = signal.Signals(-self.code).name
                head = f"killed by signal {name} (exit code {self.code})"
        if self.stopped is not None:
            head = f"{self.stopped} (exit code {self.code})"
        if self.unsaved is not None:
            head += f"; its logs could not be saved to the datastore ({self.unsaved})"
        return head + (f"; its stderr ended with:\n{tail}" if tail else "")


def task_env(
    flow: FlowInfo, run_id: str, extra_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a Metaflow command of this flow (before _deploy_env)."""
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
    return env


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
    env = task_env(flow, run_id, extra_env)
    if run_cancelled(context.run_id):
        raise DagsterExecutionInterruptedError(f"{context.run_id} was terminated")
    with tempfile.TemporaryDirectory(prefix="mfdagster-") as tmp:
        streams = {
            "stdout": open(os.path.join(tmp, "stdout"), "w+b"),  # noqa: SIM115
            "stderr": open(os.path.join(tmp, "stderr"), "w+b"),  # noqa: SIM115
        }
        tail: deque[str] = deque(maxlen=STDERR_SCAN_LINES)
        env.update(_deploy_env(flow, context.run.tags, tmp))
        context.log.info("Running: " + shlex.join(args))
        limit = _limit(context, flow, log_target)
        proc, reaper = _start(context, flow, args, env)
        try:
            echo_out, echo_err = echo_streams()
            size = flow.max_log_bytes
            pumps = [
                _pump(proc.stdout, echo_out, streams["stdout"], None, size),
                _pump(proc.stderr, echo_err, streams["stderr"], tail, size),
            ]
            stopped = None
            try:
                with tracked(context.run_id, proc.pid):
                    code = _wait(
                        proc,
                        None if limit is None else limit.at,
                        _run_stopping(context) if flow.remote_ops else None,
                    )
                if run_cancelled(context.run_id):
                    _kill_group(proc)
                    raise DagsterExecutionInterruptedError(
                        f"{context.run_id} was terminated"
                    )
            except subprocess.TimeoutExpired:
                code, stopped = proc.returncode, limit
            except BaseException:
                # Terminated (the run was cancelled): the group is dead; record the
                # attempt as killed with what it printed, as Metaflow's runtime does.
                # Its last lines may still be in the pipes: drain them, briefly (a
                # process that left the group could hold a pipe open for ever).
                for pump in pumps:
                    pump.join(timeout=PUMP_DRAIN_SECONDS)
                if log_target is not None:
                    _save_logs_quietly(flow, log_target, streams, proc.returncode)
                raise
            for pump in pumps:
                pump.join()
            unsaved = None
            if log_target is not None:
                try:
                    _save_logs(
                        flow, log_target, streams, code, killed=stopped is not None
                    )
                except Exception as exc:  # noqa: BLE001 (any datastore's errors)
                    unsaved = f"{type(exc).__name__}: {exc}"
            if stopped is not None and not stopped.retry:
                raise Failure(description=stopped.message, allow_retries=False)
            exited = Exited(code, "".join(tail), stopped and stopped.message, unsaved)
            if unsaved is not None and code == 0:
                # The task succeeded but `logs` and Task.stdout would not show it.
                raise Failure(description=exited.reason())
            return exited
        finally:
            if reaper is not None:
                disarm_reaper(reaper)
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
    max_bytes: int,
) -> threading.Thread:
    """Copy a child's stream line by line: live to this process, stamped to a file.

    As Metaflow's runtime (its TruncatedBuffer), the file keeps lines while they total
    less than `max_bytes`, then a truncation line and nothing more; live, all of it.
    """

    def run() -> None:
        assert source is not None
        kept: int | None = 0  # None: truncated
        for raw in iter(source.readline, b""):
            text = raw.decode("utf-8", errors="replace")
            echo.write(text)
            echo.flush()
            if kept is not None:
                line = _mflog_line(raw)
                if kept + len(line) < max_bytes:
                    keep.write(line)
                    kept += len(line)
                else:
                    keep.write(_mflog_line(TRUNCATED_LOG_LINE))
                    kept = None
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


# A started task: a subprocess.Popen, or (fast launch) fast_launch.py's WarmTask or
# LaunchedTask, which offer the same pid, poll, wait and streams.
_Task = Any


def _start(
    context: OpExecutionContext,
    flow: FlowInfo,
    args: list[str],
    env: Mapping[str, str],
) -> tuple[_Task, "subprocess.Popen[bytes] | None"]:
    """Start the command in a session of its own, warm (the flow's fast launch) or
    cold; and the reaper that kills it should this process die first (None: its
    launcher does)."""
    if flow.fast_launch is not None:
        return flow.fast_launch.start(context, flow, args, env)
    return start_guarded(args, flow.flow_dir, env)


def start_guarded(
    args: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    *,
    fork: Callable[..., _Task] | None = None,
) -> tuple[_Task, "subprocess.Popen[bytes]"]:
    """Start `args` in a session of its own (by `fork`, fast launch's way of forking
    this process, else as a new interpreter), with the reaper that kills its group
    should this process die first: started before it, so no moment exists where it
    runs unguarded."""
    reaper = start_reaper(env)
    try:
        proc: _Task
        if fork is not None:
            assert reaper.stdin is not None
            proc = fork(args, cwd, env, keep_closed=[reaper.stdin.fileno()])
        else:
            proc = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
    except BaseException:
        disarm_reaper(reaper)
        raise
    arm_reaper(reaper, proc.pid)
    return proc, reaper


def _wait(
    proc: _Task,
    until: float | None = None,
    stopping: Callable[[], bool] | None = None,
) -> int:
    """Wait for the step; if the op is interrupted, kill the step's process group.

    At `until` (a time.monotonic() value) the whole group is killed as well, then
    subprocess.TimeoutExpired is raised. With `stopping`, asked every WATCH_SECONDS:
    once it says the run is being cancelled, the group is killed, and the op
    interrupted.
    """
    try:
        while True:
            left = None if until is None else max(until - time.monotonic(), 0.0)
            if stopping is None:
                return proc.wait(timeout=left)
            try:
                return proc.wait(
                    timeout=WATCH_SECONDS if left is None else min(left, WATCH_SECONDS)
                )
            except subprocess.TimeoutExpired:
                if left is not None and left <= WATCH_SECONDS:
                    raise
            if stopping():
                raise DagsterExecutionInterruptedError("the run was cancelled")
    except BaseException:
        _kill_group(proc)
        raise


def _kill_group(proc: _Task) -> None:
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
# Deploy-time decorators and options: Config values, triggers (time limits: limits.py)
#
# Config values: as Metaflow's own runtime does for `python flow.py run`, every command
# gets `--config-value <name> kv.<name>` (through METAFLOW_FLOW_CONFIG_VALUE) and reads
# the values from a `--local-config-file` (METAFLOW_LOCAL_CONFIG_FILE) written here.
# @trigger_on_finish: the upstream run (tag TRIGGER_TAG) reaches every command as
# `--trigger <Flow/run>` (METAFLOW_FLOW_TRIGGER), so `current.trigger` works as usual.


def _deploy_env(flow: FlowInfo, tags: Mapping[str, str], tmp: str) -> dict[str, str]:
    """Variables that hand deploy-time values to a Metaflow command (`tmp`: its dir;
    `tags`: the Dagster run's)."""
    env: dict[str, str] = {}
    if flow.configs:
        path = os.path.join(tmp, "config.json")
        pairs = _configs_are_pairs()
        values = {
            name: [json.loads(text), plain] if pairs else json.loads(text)
            for name, (text, plain) in flow.configs.items()
        }
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"user_configs": values}, f)
        env["METAFLOW_LOCAL_CONFIG_FILE"] = path
        env["METAFLOW_FLOW_CONFIG_VALUE"] = json.dumps(
            {n: f"kv.{n}" for n in flow.configs}
        )
    trigger = tags.get(TRIGGER_TAG)
    if flow.trigger_on_finish and trigger:
        env["METAFLOW_FLOW_TRIGGER"] = trigger
    return env


def _configs_are_pairs() -> bool:
    """Whether this Metaflow's config file holds `[value, plain]` for each Config
    (Config(plain=...), Metaflow 2.19.x on) rather than the value alone (before).
    Asked of the Metaflow running the tasks, not the one the file was created with."""
    from metaflow import Config

    return "plain" in inspect.signature(Config.__init__).parameters
