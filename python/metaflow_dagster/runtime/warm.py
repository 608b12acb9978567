"""Warm task launch: fork the op process, which has Metaflow imported, for each task.

A cold task is `python flow.py step ...`: a new interpreter that imports Metaflow again
(most of a short task's time). Under fast launch, op processes fork from a server that
has imported Metaflow already; forking the op process and running the same command
line in the child (`runpy`, as `python flow.py` would) skips that import. The child is
made to look like the cold process: its own session, the task's environment, working
directory, argv and sys.path, signal handling as after exec, fresh unbuffered stdio on
the pipes, its own atexit handlers, and its exit status. Seen from outside it differs:
/proc/<pid>/cmdline and /proc/<pid>/environ show the op process's (set at exec).

Metaflow reads parts of its configuration when it is imported: `METAFLOW_*` variables,
the profile under $HOME/$METAFLOW_HOME, and the `.metaflow/config.json` found from the
working directory. So a task forks from its op only where the import saw what a cold
task would see: in a fork server's child (whose environment is the one Metaflow was
imported with), when the task adds no variable Metaflow reads at import, and when the
flow's directory finds the same local config as the server's. Every other warm task
goes to a launcher started with the task's own environment (launcher.py).
"""

# [embedded imports: begin]
import atexit
import contextlib
import io
import json
import locale
import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import IO

# [embedded imports: end]
# isort: split
# [runtime parts: begin]
from .datastore import nearest_local_dir

# [runtime parts: end]

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
# Variables, besides METAFLOW_*, that decide what importing Metaflow or starting Python
# sees: a warm task must see them exactly as this process does.
WARM_IMPORT_VARIABLES = ("HOME", "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH")


def read_at_call_time(name: str) -> bool:
    """Whether Metaflow reads this variable only while the command runs (so tasks that
    differ only in such variables may share an imported Metaflow)."""
    return name in WARM_CALL_TIME_VARIABLES or name.startswith("METAFLOW_INIT_")


def op_can_fork(env: Mapping[str, str], cwd: str) -> bool:
    """Whether a task with this environment may fork from this (op) process.

    Only a fork server's child qualifies (its environment is the one Metaflow was
    imported with), and only if the task changes nothing Metaflow read at import.
    Otherwise the task goes to a launcher (launcher.py)."""
    if multiprocessing.parent_process() is None or "metaflow" not in sys.modules:
        return False
    for name in set(env) | set(os.environ):
        if read_at_call_time(name):
            continue
        imported = name.startswith("METAFLOW_") or name in WARM_IMPORT_VARIABLES
        if imported and env.get(name) != os.environ.get(name):
            return False
    return _local_config(cwd) == _local_config(os.getcwd())


def _local_config(start: str) -> str | None:
    """The `.metaflow/config.json` Metaflow would read from `start` (as its config)."""
    local_dir = nearest_local_dir(start)
    if local_dir is None:
        return None
    path = os.path.join(local_dir, "config.json")
    return path if os.path.exists(path) else None


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


_COLD_SYS_PATH: list[str] | None = None


def _cold_sys_path(script: str) -> list[str]:
    """sys.path of `python <script>` started now: the script's directory first, unless
    safe-path mode (PYTHONSAFEPATH, checked equal for warm tasks) leaves it out."""
    global _COLD_SYS_PATH
    if _COLD_SYS_PATH is None:
        out = subprocess.run(
            [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path))"],
            capture_output=True,
            text=True,
            check=True,
            stdin=subprocess.DEVNULL,
        ).stdout
        _COLD_SYS_PATH = [str(p) for p in json.loads(out)]
    path = list(_COLD_SYS_PATH)
    # `-c` puts "" where a script puts its directory (neither, in safe-path mode).
    if path and path[0] == "":
        path[0] = os.path.dirname(os.path.abspath(script))
    return path


def start_warm_task(
    args: Sequence[str], cwd: str, env: Mapping[str, str], keep_closed: Sequence[int]
) -> WarmTask:
    """Fork a child that runs `args` (`[python, flow.py, ...]`) as a cold process would.

    `keep_closed`: descriptors of this process the child must not hold (a pipe whose
    end of input tells another process that this one died).
    """
    path = _cold_sys_path(args[1])
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
            code = _run_warm_task(list(args), cwd, env, path)
        except BaseException:  # noqa: BLE001 (say why, on the task's stderr)
            with contextlib.suppress(OSError):
                os.write(2, traceback.format_exc().encode("utf-8", "replace"))
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    return WarmTask(pid, os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"))


def _run_warm_task(
    args: list[str],
    cwd: str,
    env: Mapping[str, str],
    cold_path: list[str],
    clear_atexit: bool = True,
) -> int:
    _reset_signals()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    script = args[1]
    sys.argv = args[1:]
    sys.path[:] = cold_path
    encoding = locale.getpreferredencoding(False)
    # As with PYTHONUNBUFFERED: every write reaches the pipe at once.
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding)
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding=encoding, write_through=True
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False),
        encoding=encoding,
        errors="backslashreplace",
        write_through=True,
    )
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin
    if clear_atexit:
        atexit._clear()  # this process's handlers belong to the op, not to the task
    # Metaflow, when imported, puts classes it pickles by name on `__main__` (e.g.
    # ForeachFrame). In a cold task that is the flow's module, which imported Metaflow;
    # here Metaflow was imported before the flow's module existed: hand them over.
    # (The `__main__` they were put on may be gone: multiprocessing replaces it.)
    handed = {
        value.__name__: value
        for module_name, module in list(sys.modules.items())
        if module_name.split(".")[0] == "metaflow" and module is not None
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == "__main__"
    }
    code = 0
    try:
        runpy.run_path(script, init_globals=handed, run_name="__main__")
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = -signal.SIGINT
    except BaseException:  # noqa: BLE001 (what Python's own top level does)
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nobody reads
            stream.flush()
    if code < 0:
        # As Python does after an unhandled KeyboardInterrupt: die of the signal.
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def _reset_signals() -> None:
    """Signal handling as `python flow.py` started by subprocess.Popen gets it.

    exec keeps ignored signals ignored and the blocked mask (a fork keeps the mask
    too), and resets handled signals to their default; Popen restores SIGPIPE and
    SIGXFSZ first, and Python then ignores those two and handles SIGINT (unless it is
    ignored)."""
    # What subprocess.Popen resets before exec (restore_signals), then what Python's
    # own startup ignores. (Names kept here: launcher.py runs this from its source.)
    restored = {
        getattr(signal, n)
        for n in ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
        if hasattr(signal, n)
    }
    ignored = {getattr(signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, n)}
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            inherited = signal.getsignal(sig)
        except ValueError:
            continue
        kept_ignored = inherited == signal.SIG_IGN and sig not in restored
        if sig in ignored or kept_ignored:
            handler = signal.SIG_IGN
        elif sig == signal.SIGINT:
            handler = signal.default_int_handler
        else:
            handler = signal.SIG_DFL
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, handler)


def _exit_code(value: object) -> int:
    """What `sys.exit(value)` makes a process exit with."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1
