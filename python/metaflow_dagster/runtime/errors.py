"""The user's own exception, found in a failed task's stderr, for the failure message.

A Metaflow task that raises prints its traceback to stderr: first a dozen frames of
Metaflow's CLI and click, then the user's frames, then the exception. Dagster shows the
first lines of a failure's message and hides the rest behind "View full message", so
the message starts with what the user wrote: the exception and the frames in the flow's
own files (deepest last). The whole stderr tail follows it, unchanged.
"""

import os
import re

# A frame line of a Python traceback, as `traceback` prints it.
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
_TRACEBACK = "Traceback (most recent call last):"
# Metaflow's first line about a failed task (its cli.py, `main`).
_REPORT = re.compile(r"^<flow \S+ step \S+> failed:$")
# Library code the user did not write, even when it sits under the flow's directory
# (a virtualenv next to the flow).
_LIBRARY_DIRS = ("site-packages", "dist-packages")
# The module of Metaflow that calls a step's function.
_STEP_CALLER = os.path.join("metaflow", "task.py")
# How much of a long exception message the first lines carry.
_MESSAGE_LINES = 6


def user_exception(stderr: str, flow_dir: str) -> str | None:
    """`ValueError: message` and the user's frames, from what ended the task, or None.

    Metaflow reports a failed task with `<flow F step S> failed:`, then either its own
    exception's indented headline and message (`@timeout:` ..., with the stack at that
    moment as `>`-prefixed frames) or, for any other exception, `Internal error` and
    Python's traceback. The last such report (or, lacking one, the last traceback) is
    the one that ended the task.
    """
    lines = stderr.splitlines()
    root = os.path.realpath(flow_dir)
    reports = [i for i, line in enumerate(lines) if _REPORT.match(line)]
    tracebacks = [i for i, line in enumerate(lines) if line.strip() == _TRACEBACK]
    after = reports[-1] if reports else -1
    if tracebacks and tracebacks[-1] > after:
        return _from_traceback(lines[tracebacks[-1] + 1 :], root)
    if reports:
        return _from_report(lines[after + 1 :], root)
    return None


def _from_traceback(body: list[str], root: str) -> str | None:
    frames, last_frame = _frames(body)
    message = _exception_lines(body[last_frame + 1 :])
    return _summary(message, frames, root) if message else None


def _from_report(body: list[str], root: str) -> str | None:
    """A MetaflowException as Metaflow prints it: lines indented by 4 spaces."""
    indented = []
    for line in body:
        if not line.startswith("    "):
            break
        indented.append(line[4:])
    message = [line for line in indented if not line.startswith(">")]
    stack = [line[1:] for line in indented if line.startswith(">")]
    frames, _ = _frames(stack)
    if frames and message and message[-1].endswith(":"):
        message.pop()  # "Stack when the timeout was raised:"
    if len(message) > 1 and message[0].endswith(":"):
        message[:2] = [f"{message[0]} {message[1]}"]  # "@timeout: Step nap timed out"
    message = message[:_MESSAGE_LINES] + (
        ["..."] if len(message) > _MESSAGE_LINES else []
    )
    return _summary(message, frames, root) if message else None


_Frame = tuple[str, str, str, str]  # file, line, function, source line


def _frames(body: list[str]) -> tuple[list[_Frame], int]:
    """The frames of a traceback's body, and the index of the last frame line."""
    frames: list[_Frame] = []
    last_frame = -1
    for i, line in enumerate(body):
        match = _FRAME.match(line)
        if match is None:
            continue
        code = body[i + 1].strip() if i + 1 < len(body) else ""
        if _FRAME.match(code) or code.startswith(("^", "~")):
            code = ""
        frames.append((match["file"], match["line"], match["func"], code))
        last_frame = i
    return frames, last_frame


def _summary(message: list[str], frames: list[_Frame], root: str) -> str:
    """The message, then the frames in the flow's files, each on one line.

    A frame is the user's when its file is under the flow's directory and not in
    installed packages, and it runs below Metaflow's call of the step; when none is, the
    deepest frame outside installed packages stands for them."""
    # Metaflow's task.py calls the step function: frames above its last one only
    # started the task (the flow file's `Flow()` line, a warm launcher's frames).
    calls = [i for i, f in enumerate(frames) if f[0].endswith(_STEP_CALLER)]
    frames = frames[calls[-1] + 1 :] if calls else frames
    ours = [f for f in frames if _is_users(f[0], root)]
    if not ours:
        ours = [f for f in frames if not _in_library(f[0])][-1:]
    shown = [
        f"  {_relative(file, root)}:{line} in {func}" + (f": {code}" if code else "")
        for file, line, func, code in ours
    ]
    return "\n".join(message + shown)


def _exception_lines(after_frames: list[str]) -> list[str]:
    """The exception line(s): what follows the last frame's source and caret lines."""
    lines = []
    for line in after_frames:
        if not lines and (not line.strip() or line.startswith((" ", "\t"))):
            continue  # the last frame's source line and its ^^^ markers
        if not line.strip() or line.strip() == "Task failed.":
            break
        lines.append(line.rstrip())
    return _capped(lines)


def _capped(lines: list[str]) -> list[str]:
    return lines[:_MESSAGE_LINES] + (["..."] if len(lines) > _MESSAGE_LINES else [])


def _in_library(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return any(part in _LIBRARY_DIRS for part in parts) or path.startswith("<")


def _is_users(path: str, root: str) -> bool:
    if _in_library(path):
        return False
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def _relative(path: str, root: str) -> str:
    real = os.path.realpath(path)
    if real.startswith(root + os.sep):
        return os.path.relpath(real, root)
    return path
