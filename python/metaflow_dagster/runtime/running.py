"""The tasks running in this process: what stops them when their op cannot, and where
their output goes.

- The reaper guards a task against its op process dying first (a task a launcher
  forked is guarded by its launcher instead: launcher.py).
- Ops that run as threads (executor.py) cannot be interrupted as a process is: the
  executor cancels a terminated run's tasks through the registry here, and gives each
  op thread its own streams for the task's output (the step's compute logs).
"""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Mapping
from typing import IO

from .model import KILL_GRACE_SECONDS

# The reaper: a small process, in a session of its own, that kills a step's process
# group if the op process dies first (SIGKILL, the OOM killer) and so cannot. The op
# writes the group id to the reaper's stdin, and "done" once the group needs no reaper;
# end of input without "done" means the op died. Standard library only (-I -S: fast).
_REAPER_SOURCE = textwrap.dedent(
    """
    import os, signal, sys, time
    group = sys.stdin.buffer.readline().strip()
    if group.isdigit() and not sys.stdin.buffer.read().startswith(b"done"):
        try:
            os.killpg(int(group), signal.SIGTERM)
            deadline = time.monotonic() + float(sys.argv[1])
            while time.monotonic() < deadline:
                os.killpg(int(group), 0)
                time.sleep(0.1)
            os.killpg(int(group), signal.SIGKILL)
        except ProcessLookupError:
            pass
    """
)


def start_reaper(env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    # Started before the step, so no moment exists where the step runs unguarded.
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _REAPER_SOURCE, str(KILL_GRACE_SECONDS)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def arm_reaper(reaper: subprocess.Popen[bytes], group: int) -> None:
    assert reaper.stdin is not None
    reaper.stdin.write(f"{group}\n".encode())
    reaper.stdin.flush()


def disarm_reaper(reaper: subprocess.Popen[bytes]) -> None:
    """The op is alive and done with the step's group: let the reaper go."""
    assert reaper.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        reaper.stdin.write(b"done")
    with contextlib.suppress(BrokenPipeError):
        reaper.stdin.close()
    reaper.wait()


# Every running task's process group, under its Dagster run.
_RUN_TASKS: dict[str, set[int]] = {}
_CANCELLED_RUNS: set[str] = set()
_RUN_TASKS_LOCK = threading.Lock()
_ECHO = threading.local()


@contextlib.contextmanager
def step_echo(out: IO[str] | None, err: IO[str] | None) -> Iterator[None]:
    """In this thread, copy tasks' stdout and stderr to these (a step's own logs)."""
    _ECHO.streams = (out, err)
    try:
        yield
    finally:
        _ECHO.streams = None


def echo_streams() -> tuple[IO[str], IO[str]]:
    out, err = getattr(_ECHO, "streams", None) or (None, None)
    return out or sys.stdout, err or sys.stderr


def cancel_run_tasks(run_id: str, sig: int) -> None:
    """Send `sig` to every running task of the run; start no more of them."""
    with _RUN_TASKS_LOCK:
        _CANCELLED_RUNS.add(run_id)
        groups = list(_RUN_TASKS.get(run_id, ()))
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)


def forget_cancelled_run(run_id: str) -> None:
    with _RUN_TASKS_LOCK:
        _CANCELLED_RUNS.discard(run_id)


def run_cancelled(run_id: str) -> bool:
    with _RUN_TASKS_LOCK:
        return run_id in _CANCELLED_RUNS


@contextlib.contextmanager
def tracked(run_id: str, group: int) -> Iterator[None]:
    """While in this block, the task whose process group is `group` runs for the run."""
    with _RUN_TASKS_LOCK:
        _RUN_TASKS.setdefault(run_id, set()).add(group)
        cancelled = run_id in _CANCELLED_RUNS
    if cancelled:  # cancelled while it started
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    try:
        yield
    finally:
        with _RUN_TASKS_LOCK:
            tasks = _RUN_TASKS.get(run_id, set())
            tasks.discard(group)
            if not tasks:
                _RUN_TASKS.pop(run_id, None)
