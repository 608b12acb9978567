"""Warm task launch: fork the op process, which has Metaflow imported, for each task.

A cold task is `python flow.py step ...`: a new interpreter that imports Metaflow again
(most of a short task's time). Under fast launch, op processes fork from a server that
has imported Metaflow already; forking the op process and running the same command
line in the child (interpreter.py: as `python flow.py` would, from its stdio to its
exit) skips that import. Seen from outside it differs: /proc/<pid>/cmdline and
/proc/<pid>/environ show the op process's (set at exec).

A fork inherits what the op's interpreter made of its environment when it started
(hash seed, -O, warnings, time zone, locale, stdio encoding ...) and when it imported
Metaflow (`METAFLOW_*` variables, the profile under $HOME/$METAFLOW_HOME, the
`.metaflow/config.json` found from the working directory). So a task forks from its op
only where a cold task would start the same: in a fork server's child (whose Metaflow
was imported in its own environment), when no variable of the task's environment
differs from the one the op's interpreter started with and has now (except those shown
to be read only later: read_at_call_time, WARM_FORK_REPRODUCED), when an interpreter
started with the task's environment has the op's flags, and when the flow's directory
finds the same local config as the op's. Every other warm task goes to a launcher: an
interpreter started with the task's own environment (launcher.py).
"""

import contextlib
import inspect
import json
import locale
import multiprocessing
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import IO, Any

from .datastore import nearest_local_dir
from .interpreter import _run_warm_task, stdio_config

# Variables the task gets that Metaflow reads only while the command runs (click
# options, or looked up at call time): a warm task may differ from this process in them.
WARM_CALL_TIME_VARIABLES = frozenset(
    {
        "METAFLOW_RUN_ID",
        "METAFLOW_OWNER",
        "METAFLOW_FLOW_CONFIG_VALUE",
        "METAFLOW_LOCAL_CONFIG_FILE",
        "METAFLOW_FLOW_TRIGGER",
    }
)
# Variables the op adds to every task's environment (process.task_env) that CPython
# reads at startup, but whose effect a task forked from the op gets all the same:
# - PYTHONUNBUFFERED: read only to make stdio unbuffered (create_stdio); a warm task
#   makes its stdio as an interpreter started with the task's environment made its
#   own (_probe), unbuffered included.
# - PATH: read at startup only to find the executable when argv[0] has no slash; a
#   task's argv[0] is sys.executable (op_can_fork checks it is a path). Later, only
#   when a program is looked up (subprocess, shutil.which, os.exec*p), in os.environ,
#   which is the task's.
# (METAFLOW_USER, which the op may add too, is not here: Metaflow reads it at import.)
WARM_FORK_REPRODUCED = frozenset({"PYTHONUNBUFFERED", "PATH"})


def read_at_call_time(name: str) -> bool:
    """Whether Metaflow reads this variable only while the command runs (so tasks that
    differ only in such variables may share an imported Metaflow)."""
    return name in WARM_CALL_TIME_VARIABLES or name.startswith("METAFLOW_INIT_")


def op_can_fork(env: Mapping[str, str], cwd: str) -> bool:
    """Whether a task with this environment may fork from this (op) process.

    Only a fork server's child qualifies (its Metaflow was imported in its own
    environment), and only if the fork would start as a cold task does: the task's
    environment is the one this interpreter started with, and has now (but for the
    variables above), an interpreter started with it has this one's flags, and the
    flow's directory finds the same local config. Otherwise the task goes to a
    launcher (launcher.py), started with the task's environment."""
    if multiprocessing.parent_process() is None or "metaflow" not in sys.modules:
        return False
    started = _started_environ()
    if started is None or os.path.dirname(sys.executable) == "":
        return False
    for name in set(env) | set(os.environ) | set(started):
        if read_at_call_time(name) or name in WARM_FORK_REPRODUCED:
            continue
        if not env.get(name) == os.environ.get(name) == started.get(name):
            return False
    probe = _probe(env)
    if probe is None or probe["state"] != _interpreter_state():
        return False
    return _local_config(cwd) == _local_config(os.getcwd())


def _local_config(start: str) -> str | None:
    """The `.metaflow/config.json` Metaflow would read from `start` (as its config)."""
    local_dir = nearest_local_dir(start)
    if local_dir is None:
        return None
    path = os.path.join(local_dir, "config.json")
    return path if os.path.exists(path) else None


def _started_environ() -> dict[str, str] | None:
    """The environment this process's interpreter started with (exec'd with: a fork
    server's child has the server's), which is what CPython read at startup; None
    where the system does not show it."""
    try:
        with open("/proc/self/environ", "rb") as f:
            block = f.read()
    except OSError:
        return None
    started = {}
    for entry in block.split(b"\0"):
        name, equals, value = entry.partition(b"=")
        if equals:  # the first of two alike, as getenv() and os.environ take it
            started.setdefault(os.fsdecode(name), os.fsdecode(value))
    return started


def _interpreter_state() -> dict[str, Any]:
    """What an interpreter's startup made of its environment and command line, beyond
    the environment itself (both sides of the comparison run this: the probe, a new
    interpreter, from its source)."""
    return {
        "flags": list(sys.flags),
        "warnoptions": list(sys.warnoptions),
        "xoptions": dict(sys._xoptions),
        "fs": [sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()],
        "locale": locale.setlocale(locale.LC_ALL),
    }


_PROBES: dict[tuple[tuple[str, str], ...], dict[str, Any] | None] = {}
_PROBE_REPORT = (
    "print(json.dumps({'stdio': stdio_config(), 'path': sys.path,"
    " 'state': _interpreter_state()}))"
)


def _probe(env: Mapping[str, str]) -> dict[str, Any] | None:
    """What `python` started with the task's environment (but the variables read at
    call time, as a launcher is) makes of it: sys.path, stdio, interpreter state. None
    if it could not tell (it failed, or made no stdio)."""
    launch_env = {k: v for k, v in env.items() if not read_at_call_time(k)}
    key = tuple(sorted(launch_env.items()))
    if key not in _PROBES:
        source = "\n\n".join(
            [
                "import json, locale, sys\nfrom typing import Any",
                inspect.getsource(stdio_config),
                inspect.getsource(_interpreter_state),
                _PROBE_REPORT,
            ]
        )
        try:
            out = subprocess.run(
                [sys.executable, "-c", source],
                capture_output=True,
                text=True,
                check=True,
                env=launch_env,
                stdin=subprocess.DEVNULL,
            ).stdout
            probe = json.loads(out)
        except (OSError, ValueError, subprocess.CalledProcessError):
            probe = None
        if probe is not None and probe["stdio"] is None:
            probe = None
        _PROBES[key] = probe
    return _PROBES[key]


def cold_sys_path(start_path: Sequence[str], script: str) -> list[str]:
    """sys.path of `python <script>`, from that of `python -c` started alike: `-c` puts
    "" where a script puts its directory (neither, in safe-path mode)."""
    path = list(start_path)
    if path and path[0] == "":
        path[0] = os.path.dirname(os.path.abspath(script))
    return path


class WarmTask:
    """A forked task, driven like the subprocess.Popen of a cold one."""

    def __init__(self, pid: int, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.stderr: IO[bytes] | None = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        if timeout is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(["<warm task>"], timeout)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode


def start_warm_task(
    args: Sequence[str], cwd: str, env: Mapping[str, str], keep_closed: Sequence[int]
) -> WarmTask:
    """Fork a child that runs `args` (`[python, flow.py, ...]`) as a cold process would.

    `keep_closed`: descriptors of this process the child must not hold (a pipe whose
    end of input tells another process that this one died).
    """
    probe = _probe(env)
    assert probe is not None  # op_can_fork said so
    path = cold_sys_path(probe["path"], args[1])
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 255
        try:
            os.setsid()
            os.close(out_r)
            os.close(err_r)
            for fd in keep_closed:
                os.close(fd)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (null, out_w, err_w):
                os.close(fd)
            code = _run_warm_task(list(args), cwd, env, path, probe["stdio"])
        except BaseException:  # noqa: BLE001 (say why, on the task's stderr)
            with contextlib.suppress(OSError):
                os.write(2, traceback.format_exc().encode("utf-8", "replace"))
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    return WarmTask(pid, os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"))
