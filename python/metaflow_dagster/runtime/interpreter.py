"""What `python flow.py` does around the flow's file, done again in a forked process.

A warm task is not a new interpreter: it is a fork of one that imported Metaflow (the op
process, warm.py, or a launcher, launcher.py). So it does here what CPython does around
running a script (Modules/main.c, Python/pythonrun.c, Python/pylifecycle.c; the same in
3.10 to 3.13), in the same order:
- start: signal handling as after exec; sys.stdin/stdout/stderr made as create_stdio()
  makes them, with the encoding, errors and buffering that CPython chose at startup for
  the task's environment, read from an interpreter started with that environment (never
  worked out here from the locale); a new `__main__` module for the file.
- the file runs as `__main__`; stderr and stdout are flushed (flush_io); an unhandled
  exception is a SystemExit (its exit status) or goes to sys.excepthook (PyErr_Print).
- the end. A launcher's child (launcher.py) returns to the launcher's top level and
  exits through CPython's own Py_FinalizeEx, exactly as `python flow.py` ends. A fork
  of an op process must not finalize the op's state, so it does what Py_FinalizeEx
  does, here: threading._shutdown() (threading's own atexit callbacks, such as
  concurrent.futures' that finish submitted work, then it joins non-daemon threads),
  atexit handlers, a flush of sys.stdout and sys.stderr (a failure makes the status
  120), then the teardown of the modules the task imported (its `__main__` first
  among them), which finalizes the objects they hold (an unclosed file is flushed),
  and a second flush. An unhandled KeyboardInterrupt then kills the process with
  SIGINT (both paths).

The launcher runs these functions from their source (INTERPRETER_FUNCTIONS): they use
only the modules imported here, and each other.
"""

import atexit
import contextlib
import importlib.machinery
import io
import os
import signal
import sys
import types
from collections.abc import Mapping
from typing import Any


def stdio_config() -> dict[str, Any] | None:
    """How CPython made this interpreter's stdio at startup, from its environment: the
    streams it made then (sys.__stdout__ ...; call this before anything replaces them).
    None if it made none (its descriptors were closed)."""
    out = sys.__stdout__ or sys.__stdin__
    if out is None:
        return None
    err = sys.__stderr__
    return {
        "encoding": out.encoding,
        "errors": out.errors,
        # init_sys_streams() gives stderr "backslashreplace" whatever the locale.
        "stderr_errors": err.errors if err is not None else "backslashreplace",
        "buffered": not out.write_through,
    }


def _run_warm_task(
    args: list[str],
    cwd: str,
    env: Mapping[str, str],
    cold_path: list[str],
    stdio: Mapping[str, Any],
    clear_atexit: bool = True,
    interpreter_exit: bool = False,
) -> int:
    """Run `args` (`[python, flow.py, ...]`) in this (forked) process as that command
    would in a new one; return the exit status it would have (or die of its signal).

    `interpreter_exit`: the caller ends the process by letting the interpreter exit
    with the returned status (sys.exit at its top level), so CPython finalizes."""
    _reset_signals()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    script = args[1]
    sys.argv = args[1:]
    sys.orig_argv = list(args)
    sys.path[:] = cold_path
    _open_stdio(stdio)
    if clear_atexit:
        atexit._clear()  # this process's handlers belong to the op, not to the task
    # threading's own exit callbacks (threading._register_atexit) stay: a module
    # registers its callback once, when imported (concurrent.futures: finish the
    # submitted work), and the task's pools need it; those that wait for the op's
    # threads return at once, as a fork has none of them.

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
    before = set(sys.modules)
    code, interrupted = _run_main(script, handed)
    if interpreter_exit and not interrupted:
        return code
    return _finalize(code, interrupted, before)


def _open_stdio(stdio: Mapping[str, Any]) -> None:
    """sys.stdin, sys.stdout, sys.stderr on descriptors 0, 1, 2, as init_sys_streams()
    makes them (the same encoding for all three, stderr's own errors)."""
    encoding, errors, buffered = stdio["encoding"], stdio["errors"], stdio["buffered"]
    sys.stdin = _std_stream(0, False, "<stdin>", encoding, errors, buffered)
    sys.stdout = _std_stream(1, True, "<stdout>", encoding, errors, buffered)
    sys.stderr = _std_stream(
        2, True, "<stderr>", encoding, stdio["stderr_errors"], buffered
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _std_stream(
    fd: int, write: bool, name: str, encoding: str, errors: str, buffered: bool
) -> io.TextIOWrapper:
    """One standard stream, as CPython's create_stdio() makes it."""
    # Unbuffered (PYTHONUNBUFFERED, -u): writers get no buffer, every write reaches
    # the descriptor at once; a reader always has one.
    buffering = -1 if buffered or not write else 0
    buffer = open(fd, "wb" if write else "rb", buffering, closefd=False)  # noqa: SIM115
    raw = buffer.raw if buffering else buffer
    raw.name = name
    stream = io.TextIOWrapper(
        buffer,
        encoding,
        errors,
        newline="\n",
        line_buffering=buffered and (raw.isatty() or fd == 2),
        write_through=not buffered,
    )
    stream.mode = "w" if write else "r"
    return stream


def _run_main(script: str, handed: Mapping[str, Any]) -> tuple[int, bool]:
    """Run the file as `__main__` (pymain_run_file, _PyRun_SimpleFileObject and
    PyErr_Print): the exit status so far, and whether a KeyboardInterrupt went
    unhandled."""
    try:
        with io.open_code(script) as f:
            source = f.read()
    except OSError as exc:
        _write_stderr(
            f"{sys.orig_argv[0]}: can't open file {script!r}: "
            f"[Errno {exc.errno}] {exc.strerror}\n"
        )
        return 2, False
    main = types.ModuleType("__main__")
    namespace = main.__dict__
    namespace.update(handed)
    namespace["__annotations__"] = {}
    namespace["__builtins__"] = sys.modules["builtins"]
    namespace["__file__"] = script
    namespace["__cached__"] = None
    namespace["__loader__"] = importlib.machinery.SourceFileLoader("__main__", script)
    sys.modules["__main__"] = main
    try:
        exec(compile(source, script, "exec", dont_inherit=True), namespace)  # noqa: S102
    except BaseException as exc:  # noqa: BLE001 (what Python's own top level does)
        raised: BaseException | None = exc
        tb = exc.__traceback__
        # Its traceback starts at the file's own code, as in a cold task (a file
        # that does not compile has none).
        exc.__traceback__ = tb.tb_next if tb is not None else None
    else:
        raised = None
    _flush_io()
    if isinstance(raised, SystemExit):
        # Py_Exit: __main__ keeps its __file__.
        return _exit_code(raised.code), False
    for name in ("__file__", "__cached__"):
        namespace.pop(name, None)
    if raised is None:
        return 0, False
    hook_exit = _print_unhandled(raised)
    if hook_exit is not None:
        return hook_exit, False
    return 1, isinstance(raised, KeyboardInterrupt)


def _flush_io() -> None:
    """flush_io(): after the file ran, flush stderr then stdout, ignoring any error."""
    for name in ("stderr", "stdout"):
        with contextlib.suppress(BaseException):
            getattr(sys, name).flush()


def _print_unhandled(exc: BaseException) -> int | None:
    """PyErr_Print: hand the exception to sys.excepthook. An exit status if the hook
    raised SystemExit (the process then exits with it), else None."""
    kind, tb = type(exc), exc.__traceback__
    sys.last_type, sys.last_value, sys.last_traceback = kind, exc, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = exc
    missing = object()
    hook = getattr(sys, "excepthook", missing)
    try:
        sys.audit("sys.excepthook", None if hook is missing else hook, kind, exc, tb)
    except RuntimeError:
        return None
    except Exception as error:  # noqa: BLE001 (as CPython: reported, then goes on)
        _unraisable(error, None, "in audit hook")
    if hook is missing:
        _write_stderr("sys.excepthook is missing\n")
        sys.__excepthook__(kind, exc, tb)
        return None
    try:
        hook(kind, exc, tb)
    except SystemExit as stop:
        return _exit_code(stop.code)
    except BaseException as error:  # noqa: BLE001 (what Python's own top level does)
        _write_stderr("Error in sys.excepthook:\n")
        # Its traceback starts in the hook (display reads the exception's own).
        error_tb = error.__traceback__
        error.__traceback__ = error_tb.tb_next if error_tb is not None else None
        sys.__excepthook__(type(error), error, error.__traceback__)
        _write_stderr("\nOriginal exception was:\n")
        sys.__excepthook__(kind, exc, tb)
    return None


def _finalize(code: int, interrupted: bool, before: set[str]) -> int:
    """The end of Py_RunMain, for a process that must not finalize itself: what
    Py_FinalizeEx does for the task (the modules not in `before` are the task's), then
    the exit status (120 if a flush failed; death by SIGINT after an unhandled
    KeyboardInterrupt)."""
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException as exc:  # noqa: BLE001 (as CPython: reported, goes on)
            _unraisable(exc, threading, None)
    atexit._run_exitfuncs()
    if not _flush_std_files():
        code = 120
    if _teardown_modules(before) and not _flush_std_files():
        code = 120
    if interrupted:
        return _exit_sigint()
    return code


def _teardown_modules(before: set[str]) -> bool:
    """finalize_modules() for the modules the task imported: out of sys.modules, then
    their dicts cleared, the most recently imported first, as _PyModule_ClearDict clears
    them (names with one leading underscore, then the rest; __builtins__ kept), with a
    collection before and after. Objects only they held are finalized (an unclosed file
    is flushed). Done only when no other thread runs: CPython freezes daemon threads
    before this, which Python code cannot do. True if it was done."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False
    import gc

    # Bound now: `gc` may be one of the modules cleared below (the task imported it).
    collect = gc.collect
    names = [name for name in sys.modules if name not in before]
    modules = [sys.modules.pop(name) for name in names]
    main = sys.modules.get("__main__")
    if main is not None:
        modules.insert(0, main)
    collect()
    for module in reversed(modules):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for first in (True, False):
            for key in list(namespace):
                single = key.startswith("_") and not key.startswith("__")
                if key != "__builtins__" and (single or not first):
                    namespace[key] = None
    collect()
    return True


def _flush_std_files() -> bool:
    """flush_std_files(): flush sys.stdout (a failure is reported) and sys.stderr; False
    if either failed."""
    flushed = True
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name, None)
        if stream is None:
            continue
        try:
            closed = bool(stream.closed)
        except Exception:  # noqa: BLE001 (file_is_closed: then it is not)
            closed = False
        if closed:
            continue
        try:
            stream.flush()
        except BaseException as exc:  # noqa: BLE001 (as CPython: any error)
            if name == "stdout":
                _unraisable(exc, stream, None)
            flushed = False
    return flushed


def _exit_sigint() -> int:
    """exit_sigint(): die of SIGINT, as a shell expects of an interrupted program; if
    that does not kill (SIGINT blocked), exit 128 + SIGINT."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    except (OSError, ValueError) as exc:
        _write_stderr(f"signal: {exc}\n")
    else:
        os.kill(os.getpid(), signal.SIGINT)
    return 128 + signal.SIGINT


def _unraisable(exc: BaseException, obj: object, message: str | None) -> None:
    """PyErr_WriteUnraisable: hand `exc` to sys.unraisablehook, as CPython does when it
    cannot raise it ("Exception ignored in: <obj>")."""
    # The hook takes only CPython's own UnraisableHookArgs, which Python code cannot
    # name: take its type from an unraisable exception raised on purpose.
    kinds: list[type] = []

    class _Raises:
        def __del__(self) -> None:
            raise RuntimeError

    hook = sys.unraisablehook
    sys.unraisablehook = lambda args: kinds.append(type(args))
    try:
        _Raises()
    finally:
        sys.unraisablehook = hook
    tb = exc.__traceback__
    args = kinds[0]((type(exc), exc, tb.tb_next if tb else None, message, obj))
    try:
        sys.unraisablehook(args)
    except BaseException:  # noqa: BLE001 (a failing hook: what CPython then prints)
        sys.__unraisablehook__(args)


def _write_stderr(text: str) -> None:
    """PySys_WriteStderr: to sys.stderr, or descriptor 2 if that fails."""
    try:
        sys.stderr.write(text)
    except Exception:  # noqa: BLE001
        with contextlib.suppress(OSError):
            os.write(2, text.encode("utf-8", "backslashreplace"))


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
    """The exit status of `sys.exit(value)` (_Py_HandleSystemExit): None is 0, an int
    its low byte (as a C long: beyond one, 255); anything else is printed, and is 1."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF if -(2**63) <= value < 2**63 else 0xFF
    _write_stderr(f"{value}\n")
    return 1


# The launcher (a new interpreter) runs these from their source.
INTERPRETER_FUNCTIONS = (
    stdio_config,
    _run_warm_task,
    _open_stdio,
    _std_stream,
    _run_main,
    _flush_io,
    _print_unhandled,
    _finalize,
    _teardown_modules,
    _flush_std_files,
    _exit_sigint,
    _unraisable,
    _write_stderr,
    _reset_signals,
    _exit_code,
)
# What they import (a launcher's source starts with these lines).
INTERPRETER_IMPORTS = (
    "import atexit, contextlib, importlib.machinery, io, os, signal, sys, types\n"
    "from collections.abc import Mapping\n"
    "from typing import Any\n"
)
