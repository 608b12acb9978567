"""Warm task launch outside a fork server: a launcher process that forks each task.

Where the op is not a fork-server child (the thread executor, the default, runs every op
as a thread of the run's process; `execute_in_process` runs them in the caller's), the
op cannot fork itself: its process has threads and state that are not the task's. It
asks a launcher instead: a new interpreter, started once with the task's environment
and the flow's directory as working directory, that imports Metaflow and then forks one
child per task. The child runs the task as warm.py's fork-server path does (`runpy`, as
`python flow.py` would), so a task is set up the same way on both paths.

The launcher is started exactly as a cold task would be, except for its command line
(`python -c`): every variable Metaflow reads at import is the task's own, and so is the
local `.metaflow/config.json` found from the working directory. Launchers are keyed by
that environment and directory; a task whose environment differs (an @environment
variable) gets a launcher of its own. Only variables Metaflow reads when the command
runs (warm.read_at_call_time) may differ between a launcher's tasks.

Protocol: the op sends the launcher, over a Unix socket, a socket of its own and the
task's stdout and stderr pipes. The child reads its request (argv, directory,
environment) from that socket, starts a session, says `pid <n>` and runs; the launcher,
its parent, says `exit <code>` when it reaps it. End of input on the control socket
(the op's process is gone: killed, or exiting) makes the launcher stop its running
tasks and exit, which is what the op's reaper does for other tasks (process.py).
"""

import atexit
import contextlib
import inspect
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .interpreter import (
    INTERPRETER_FUNCTIONS,
    INTERPRETER_IMPORTS,
    _run_warm_task,
    stdio_config,
)
from .model import KILL_GRACE_SECONDS
from .warm import cold_sys_path, read_at_call_time

# What the launcher imports before it forks: what every `step` command imports before
# the flow's own code runs. A name that does not import is skipped (speed, not
# correctness: the task imports what it needs itself). Never `metaflow.cli`, nor
# anything that imports it: importing it adds the options of the flow being defined
# (@project's --branch, Config options), so it must happen after the flow's class
# exists, as in a cold task (tests/test_launcher.py checks).
LAUNCHER_PRELOAD = (
    "metaflow",
    "metaflow.task",
    "metaflow.datastore",
    "metaflow.mflog",
    "metaflow.plugins",
)
# How long a task may wait for its launcher (which imports Metaflow first) to fork it.
LAUNCHER_START_SECONDS = 120.0
# A launcher with nothing to do for this long exits (a long-lived process that ran a
# job, e.g. a notebook, keeps none idle for ever); the next task starts a new one.
LAUNCHER_IDLE_SECONDS = 60.0
# How long an exiting process waits for its launchers to end (they end at once when
# no task runs; with tasks running, this process does not wait out their grace).
REAP_SECONDS = 1.0
# Launchers kept per process (each is one idle interpreter with Metaflow imported).
MAX_LAUNCHERS = 4


def _launcher_main(
    control_fd: int, preload: Sequence[str], idle: float, grace: float
) -> int | None:
    """The launcher's main loop (runs in the launcher process, from its source).

    Returns None in the launcher; in a child that ran a task, the task's exit status,
    which the launcher's top level exits with (sys.exit), so that CPython itself ends
    the task as it ends `python flow.py`: threads joined, atexit, stdio flushed,
    modules torn down.

    Ends when idle (no task running, none asked for) for `idle` seconds, or when asked
    to stop ("q": once its running tasks end). End of input without "q" means the
    process that asked for the tasks is gone (killed): so are its tasks, as the reaper
    would have it (process.py) SIGTERM to each task's process group, SIGKILL `grace`
    seconds later."""
    # As CPython's startup made them for the task's environment, before anything
    # could change them: sys.path as `python -c` built it, and stdio.
    cold_path = list(sys.path)
    stdio = stdio_config()
    for name in preload:
        with contextlib.suppress(Exception):
            __import__(name)
    control = socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, socket.socket] = {}
    listening = True
    kill_at: float | None = None
    while listening or children:
        watched = [control, wake_r] if listening else [wake_r]
        timeout = None if children else idle
        if kill_at is not None:
            timeout = max(kill_at - time.monotonic(), 0.0)
        # Retried on EINTR (PEP 475); SIGCHLD wakes it through the wakeup fd.
        ready, _, _ = select.select(watched, [], [], timeout)
        if not ready and not children:
            return
        if wake_r in ready:
            os.read(wake_r, 4096)
        if listening and control in ready:
            message, fds, _, _ = socket.recv_fds(control, 16, 3)
            if message != b"t" or len(fds) != 3:
                listening = False
                for fd in fds:
                    os.close(fd)
                if not message:
                    kill_at = time.monotonic() + grace
                    _signal_groups(children, signal.SIGTERM)
                continue
            reply = socket.socket(fileno=fds[0])
            pid = os.fork()
            if pid == 0:  # the child: returns only to exit
                # Detached, so that finalizing their objects closes no descriptor
                # number the task reuses.
                close = [control.detach(), wake_r, wake_w]
                close += [s.detach() for s in children.values()]
                return _launcher_child(reply, fds[1], fds[2], close, cold_path, stdio)
            os.close(fds[1])
            os.close(fds[2])
            children[pid] = reply
        if kill_at is not None and time.monotonic() >= kill_at:
            kill_at = None
            _signal_groups(children, signal.SIGKILL)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reply = children.pop(pid)
            with contextlib.suppress(OSError):
                reply.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            reply.close()


def _signal_groups(groups: Iterable[int], sig: int) -> None:
    """Send `sig` to each task's process group (a task is its session's leader)."""
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)


def _launcher_child(
    reply: socket.socket,
    out_fd: int,
    err_fd: int,
    close: Sequence[int],
    cold_path: Sequence[str],
    stdio: Mapping[str, Any],
) -> int:
    """In the launcher's child: read the request, start a session, run the task; its
    exit status (the caller exits with it). Never returns if this code itself fails."""
    try:
        signal.set_wakeup_fd(-1)
        os.setsid()
        for fd in close:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in (null, out_fd, err_fd):
            os.close(fd)
        with reply.makefile("rb") as lines:
            request = json.loads(lines.readline())
        reply.sendall(f"pid {os.getpid()}\n".encode())
        reply.close()
        args = list(request["args"])
        path = cold_sys_path(cold_path, args[1])
    except BaseException:  # noqa: BLE001 (say why, on the task's stderr)
        with contextlib.suppress(OSError):
            os.write(2, traceback.format_exc().encode("utf-8", "replace"))
        os._exit(255)
    # The launcher's atexit handlers are those importing Metaflow registered, as in a
    # cold task: keep them.
    return _run_warm_task(
        args,
        request["cwd"],
        request["env"],
        path,
        stdio,
        clear_atexit=False,
        interpreter_exit=True,
    )


# The launcher runs these functions, with these imports, from their source (a launcher
# is a new interpreter that must not import Dagster, or this file, to start).
_LAUNCHER_IMPORTS = (
    "import contextlib, json, os, select, signal, socket, sys, time, traceback\n"
    "from collections.abc import Iterable, Mapping, Sequence\n"
    "from typing import Any\n"
)
_LAUNCHER_SOURCE: str | None = None


def _launcher_source() -> str:
    global _LAUNCHER_SOURCE
    if _LAUNCHER_SOURCE is None:
        parts = [INTERPRETER_IMPORTS + _LAUNCHER_IMPORTS]
        for function in (
            _launcher_main,
            _signal_groups,
            _launcher_child,
            cold_sys_path,
            *INTERPRETER_FUNCTIONS,
        ):
            parts.append(inspect.getsource(function))
        parts.append(
            "_exit = _launcher_main(int(sys.argv[1]), json.loads(sys.argv[2]), "
            "float(sys.argv[3]), float(sys.argv[4]))\n"
            "if _exit is not None:\n"
            "    sys.exit(_exit)\n"
            # The launcher itself ran no task's code and holds nothing to finalize:
            # it ends at once (the process that started it waits for it at exit).
            "sys.stderr.flush()\n"
            "os._exit(0)\n"
        )
        _LAUNCHER_SOURCE = "\n\n".join(parts)
    return _LAUNCHER_SOURCE


class LauncherError(Exception):
    """A launcher did not start a task (the task never ran): start it cold instead."""


class LaunchedTask:
    """A task forked by a launcher, driven like the subprocess.Popen of a cold one."""

    def __init__(self, channel: socket.socket, stdout_fd: int, stderr_fd: int) -> None:
        self._channel = channel
        self._buffer = b""
        self.stdout = os.fdopen(stdout_fd, "rb")
        self.stderr = os.fdopen(stderr_fd, "rb")
        self.returncode: int | None = None
        said = self._said(LAUNCHER_START_SECONDS)
        if not said or not said.startswith("pid "):
            # The task did not start: the launcher died, hangs, or failed to fork.
            for stream in (self.stdout, self.stderr, channel):
                stream.close()
            raise LauncherError(
                "no answer in time" if said == "" else "it exited before the task began"
            )
        self.pid = int(said[4:])

    def _said(self, timeout: float | None) -> str | None:
        """The launcher's next line; None at end of input; "" if none came in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            ready, _, _ = select.select([self._channel], [], [], left)
            if not ready:
                return ""
            try:
                chunk = self._channel.recv(256)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def _exit_of(self, said: str | None) -> int:
        if said is not None and said.startswith("exit "):
            return int(said[5:])
        # The launcher died: the task may run on, unwatched; stop it. Its status is
        # unknown, and not success.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        return 255

    def poll(self) -> int | None:
        if self.returncode is None:
            said = self._said(0.0)
            if said != "":
                self.returncode = self._exit_of(said)
                self._channel.close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            said = self._said(timeout)
            if said == "":
                raise subprocess.TimeoutExpired(["<warm task>"], timeout or 0.0)
            self.returncode = self._exit_of(said)
            self._channel.close()
        return self.returncode


class _Launcher:
    """A launcher process, and the socket that asks it for tasks."""

    def __init__(self, env: Mapping[str, str], cwd: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _launcher_source(),
                    str(theirs.fileno()),
                    json.dumps(LAUNCHER_PRELOAD),
                    str(LAUNCHER_IDLE_SECONDS),
                    str(KILL_GRACE_SECONDS),
                ],
                cwd=cwd,
                env=dict(env),
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.control = ours

    def send(
        self, args: Sequence[str], cwd: str, env: Mapping[str, str]
    ) -> tuple[socket.socket, int, int]:
        """Ask for a task; return the channel and the read ends of its stdout/stderr."""
        channel, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            socket.send_fds(self.control, [b"t"], [theirs.fileno(), out_w, err_w])
            request = {"args": list(args), "cwd": cwd, "env": dict(env)}
            channel.sendall(json.dumps(request).encode() + b"\n")
        except OSError as exc:
            for fd in (out_r, err_r):
                os.close(fd)
            channel.close()
            raise LauncherError(f"it stopped taking tasks ({exc})") from exc
        finally:
            theirs.close()
            os.close(out_w)
            os.close(err_w)
        return channel, out_r, err_r

    def close(self, *, stop_tasks: bool) -> None:
        """Stop taking tasks. The launcher exits once its running tasks end, or, with
        `stop_tasks`, kills them first (their ops are gone: this process is exiting)."""
        with contextlib.suppress(OSError):
            if not stop_tasks:
                self.control.send(b"q")
            self.control.close()


_LAUNCHERS: dict[tuple[str, tuple[tuple[str, str], ...]], _Launcher] = {}
_LAUNCHERS_LOCK = threading.Lock()


def _launcher_for(env: Mapping[str, str], cwd: str) -> _Launcher:
    """The live launcher for this environment and directory (started if none is)."""
    imported = {
        name: value for name, value in env.items() if not read_at_call_time(name)
    }
    key = (cwd, tuple(sorted(imported.items())))
    with _LAUNCHERS_LOCK:
        launcher = _LAUNCHERS.pop(key, None)
        if launcher is not None and launcher.process.poll() is not None:
            launcher.close(stop_tasks=False)
            launcher = None
        if launcher is None:
            if len(_LAUNCHERS) >= MAX_LAUNCHERS:
                # Its running tasks (of other ops) finish; it takes no more.
                _LAUNCHERS.pop(next(iter(_LAUNCHERS))).close(stop_tasks=False)
            launcher = _Launcher(imported, cwd)
        _LAUNCHERS[key] = launcher  # the most recently used last
        return launcher


def start_launcher(env: Mapping[str, str], cwd: str) -> None:
    """Start the launcher tasks with this environment will use, before they need it."""
    _launcher_for(env, cwd)


def launch_warm(args: Sequence[str], cwd: str, env: Mapping[str, str]) -> LaunchedTask:
    """Run `args` (`[python, flow.py, ...]`) in a child of the launcher for this
    environment and directory (started now if there is none).

    Raises LauncherError if the task could not be started (it did not run)."""
    for retry in (False, True):
        launcher = _launcher_for(env, cwd)
        try:
            with _LAUNCHERS_LOCK:
                sent = launcher.send(args, cwd, env)
            # Outside the lock: a first task waits for its launcher to import Metaflow.
            return LaunchedTask(*sent)
        except LauncherError:
            # A launcher that exited (idle) as it was asked: once more, with a new one.
            with contextlib.suppress(subprocess.TimeoutExpired):
                launcher.process.wait(timeout=1.0)
            if retry or launcher.process.poll() is None:
                raise
    raise AssertionError("unreachable")


@atexit.register
def _close_launchers() -> None:
    # This process is exiting: a task still running has lost its op.
    with _LAUNCHERS_LOCK:
        closed = list(_LAUNCHERS.values())
        for launcher in closed:
            launcher.close(stop_tasks=True)
        _LAUNCHERS.clear()
    # Reap them, so that none outlives this process (an idle one ends at once; its
    # CPU, and its tasks', is then this process's children's, as a cold task's is).
    # One that is still stopping tasks ends by itself, SIGKILL at most its grace later.
    deadline = time.monotonic() + REAP_SECONDS
    for launcher in closed:
        with contextlib.suppress(subprocess.TimeoutExpired):
            launcher.process.wait(timeout=max(deadline - time.monotonic(), 0.0))
