"""The warm-task launcher (runtime/launcher.py), driven directly: real processes, no
Dagster. End-to-end fidelity (a warm task against a cold one) is in test_warm.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import is_gone, is_launcher
from metaflow_dagster.runtime import launcher

SCRIPT = """
import json, os, sys
print(json.dumps({
    "pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0),
    "argv": sys.argv, "cwd": os.getcwd(), "path0": sys.path[0],
    "mark": os.environ.get("LAUNCHER_MARK"),
}))
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""


def run(
    script: Path, code: int, env: dict[str, str]
) -> tuple[int, dict[str, object], str]:
    task = launcher.launch_warm(
        [sys.executable, str(script), str(code)], str(script.parent), env
    )
    assert task.stdout is not None and task.stderr is not None
    out, err = task.stdout.read().decode(), task.stderr.read().decode()
    return task.wait(timeout=60), json.loads(out), err


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "task.py"
    path.write_text(SCRIPT)
    return path


def test_a_task_runs_as_its_command_line_in_a_session_of_its_own(script: Path) -> None:
    env = dict(os.environ, LAUNCHER_MARK="a 'quoted' value")
    code, seen, err = run(script, 3, env)
    assert code == 3
    assert seen["sid"] == seen["pid"]  # a session leader, like a cold task
    assert seen["argv"] == [str(script), "3"]
    assert seen["cwd"] == str(script.parent)
    assert seen["path0"] == str(script.parent)
    assert seen["mark"] == "a 'quoted' value"
    assert err == "to stderr\n"
    ppid = int(str(seen["ppid"]))
    assert is_launcher(Path(f"/proc/{ppid}/cmdline").read_bytes())


def test_another_environment_gets_another_launcher(script: Path) -> None:
    _, first, _ = run(script, 0, dict(os.environ, LAUNCHER_MARK="one"))
    _, again, _ = run(script, 0, dict(os.environ, LAUNCHER_MARK="one"))
    _, other, _ = run(script, 0, dict(os.environ, LAUNCHER_MARK="two"))
    assert first["ppid"] == again["ppid"]
    assert other["ppid"] != first["ppid"]
    assert other["mark"] == "two"
    # Variables Metaflow reads only when the command runs share a launcher.
    _, call_time, _ = run(
        script, 0, dict(os.environ, LAUNCHER_MARK="one", METAFLOW_RUN_ID="r2")
    )
    assert call_time["ppid"] == first["ppid"]


def test_an_idle_launcher_exits_and_the_next_task_starts_another(
    script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launcher, "LAUNCHER_IDLE_SECONDS", 0.5)
    env = dict(os.environ, LAUNCHER_MARK="idle")
    _, first, _ = run(script, 0, env)
    idle = int(str(first["ppid"]))
    deadline = time.monotonic() + 30
    while not is_gone(idle):
        assert time.monotonic() < deadline, "the idle launcher did not exit"
        time.sleep(0.1)
    code, second, _ = run(script, 5, env)
    assert code == 5
    assert second["ppid"] != idle


def test_a_launcher_that_cannot_start_says_so_and_runs_nothing(
    script: Path, tmp_path: Path
) -> None:
    env = dict(os.environ, PYTHONHOME=str(tmp_path / "no-such-python-home"))
    with pytest.raises(launcher.LauncherError):
        launcher.launch_warm(
            [sys.executable, str(script), "0"], str(script.parent), env
        )


SLEEPER = """
import sys, time
print("started", flush=True)
time.sleep(float(sys.argv[1]))
print("finished", flush=True)
"""


def test_tasks_outlive_a_stopped_launcher_but_not_a_dead_op(tmp_path: Path) -> None:
    """Asked to stop ("q"), a launcher lets its running tasks finish; at end of input
    (the process that asked for them exits or is killed) it kills them, as the reaper
    does for other tasks."""
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    env = dict(os.environ, LAUNCHER_MARK="stop")
    kept = launcher.launch_warm([sys.executable, str(script), "2"], str(tmp_path), env)
    assert kept.stdout is not None
    assert kept.stdout.readline() == b"started\n"
    live = launcher._launcher_for(env, str(tmp_path))
    with launcher._LAUNCHERS_LOCK:  # as an evicted launcher: out of the registry
        for key, value in list(launcher._LAUNCHERS.items()):
            if value is live:
                del launcher._LAUNCHERS[key]
    live.close(stop_tasks=False)
    assert kept.wait(timeout=60) == 0
    assert kept.stdout.read() == b"finished\n"

    doomed = launcher.launch_warm(
        [sys.executable, str(script), "600"], str(tmp_path), env
    )
    assert doomed.stdout is not None
    assert doomed.stdout.readline() == b"started\n"
    launcher._close_launchers()
    deadline = time.monotonic() + launcher.KILL_GRACE_SECONDS + 10
    while not is_gone(doomed.pid):
        assert time.monotonic() < deadline, "the task outlived its op"
        time.sleep(0.1)


USER = """
import json, os, sys
from metaflow_dagster.runtime import launcher
args = [sys.executable, sys.argv[1], "0"]
task = launcher.launch_warm(args, sys.argv[2], dict(os.environ))
task.stdout.read(), task.stderr.read()
assert task.wait(timeout=60) == 0
print(json.dumps([l.process.pid for l in launcher._LAUNCHERS.values()]))
"""


def test_no_launcher_outlives_the_process_that_started_it(script: Path) -> None:
    """At exit, the process reaps its launchers: none is left behind, still running or
    reparented (so their CPU, and their tasks', is counted as its children's)."""
    done = subprocess.run(
        [sys.executable, "-c", USER, str(script), str(script.parent)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (pid,) = json.loads(done.stdout)
    assert not Path(f"/proc/{pid}").exists(), "the launcher outlived its process"
