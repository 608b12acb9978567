"""`dagster trigger`, `dagster status` and `dagster terminate` against a real Dagster.

Each test starts its own `dagster dev` (webserver, daemon and code server) on a free
port of 127.0.0.1 with a DAGSTER_HOME under the test's tmp directory, or none at all
for the background launcher, and drives it only through the flow's CLI.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import copy_flow, create, read_run, run_cli
from metaflow_dagster import launch

SERVER_TIMEOUT = 240.0  # `dagster dev` takes a minute to serve on a busy machine
RUN_TIMEOUT = 240.0
SURVIVOR_GRACE = 30.0

# A step that runs for 300 s and has a child process: terminating the run must stop
# both. The child carries the run's marker in its command line.
SLEEPY_FLOW = """
import subprocess
import sys
import time

from metaflow import FlowSpec, Parameter, step


class SleepyFlow(FlowSpec):
    marker = Parameter("marker", required=True)

    @step
    def start(self):
        self.next(self.sleepy)

    @step
    def sleepy(self):
        child = [sys.executable, "-c", "import time; time.sleep(300)", self.marker]
        subprocess.Popen(child)
        print("sleeping", flush=True)
        time.sleep(300)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleepyFlow()
"""


# ---------------------------------------------------------------------------------
# A real `dagster dev`


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dagster_home(folder: Path) -> Path:
    home = folder / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def dagster_dev(folder: Path, *files: str, port: int | None = None) -> Iterator[str]:
    """`dagster dev -f <files>` in `folder`; yields its URL once it serves the jobs.

    Stopped with SIGKILL to its whole process group: started from a non-interactive
    shell, `dagster dev` ignores SIGTERM.
    """
    home = dagster_home(folder)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "dagster_dev.log"
    args = [str(Path(sys.executable).with_name("dagster")), "dev"]
    for file in files:
        args += ["-f", file]
    args += ["-h", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        webserver = launch.Webserver(url)
        deadline = time.monotonic() + SERVER_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"dagster dev exited with {proc.returncode}:\n{_tail(log)}"
                )
            if webserver.answers() and len(webserver.jobs()) >= len(files):
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"dagster dev served no jobs in {SERVER_TIMEOUT:.0f}s:\n"
                    + _tail(log)
                )
            time.sleep(1)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)


# ---------------------------------------------------------------------------------
# Helpers


def flow_cli(
    flow: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run_cli([flow.name, *args], cwd=flow.parent, env=env, check=check)


def poll_status(
    flow: Path,
    run_id: str,
    until: tuple[str, ...],
    env: dict[str, str],
    timeout: float = RUN_TIMEOUT,
) -> str:
    """`dagster status` until the run's status is one of `until`."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        proc = flow_cli(flow, "dagster", "status", "--run-id", run_id, env=env)
        seen = proc.stdout.strip().splitlines()[-1]
        if seen in until:
            return seen
        time.sleep(2)
    raise AssertionError(f"run {run_id} still {seen} after {timeout:.0f}s")


def processes_with(*needles: str) -> list[str]:
    """Command lines of live processes (not zombies) containing every needle."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and all(n in cmdline for n in needles):
            found.append(f"{entry.name}: {cmdline}")
    return found


def wait_for_processes(*needles: str, timeout: float = RUN_TIMEOUT) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = processes_with(*needles)
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"no process with {needles} within {timeout:.0f}s")


def step_session(marker: str, flow: Path) -> int:
    """The session of the running step whose child carries `marker` in its command line.

    The step leads its own session. It is found through its child, not by its own
    command line: a warm task (forked from its op process) shows the op's."""
    [found] = wait_for_processes(marker)
    sid = os.getsid(int(found.split(":", 1)[0]))
    assert os.readlink(f"/proc/{sid}/cwd") == str(flow.parent), found
    return sid


def processes_in_session(sid: int) -> list[str]:
    """Live processes (not zombies) of session `sid`, with their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != sid:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append(f"{entry.name}: {cmdline}")
    return found


def assert_no_survivors(
    *needle_sets: tuple[str, ...],
    sessions: tuple[int, ...] = (),
    deadline: float | None = None,
) -> None:
    """No process matches any needle set, or is in any of `sessions`, by `deadline`
    (time.monotonic())."""
    deadline = time.monotonic() + SURVIVOR_GRACE if deadline is None else deadline
    while True:
        left = [p for needles in needle_sets for p in processes_with(*needles)]
        left += [p for sid in sessions for p in processes_in_session(sid)]
        if not left:
            return
        if time.monotonic() > deadline:
            survivors = "\n".join(left)
            raise AssertionError(f"processes survived the termination:\n{survivors}")
        time.sleep(1)


def triggered_pathspec(output: str) -> str:
    match = re.search(r"Metaflow run (\S+/dagster-[0-9a-f-]+)\)", output)
    assert match, output
    return match.group(1)


def assert_killed_step_recorded(folder: Path, pathspec: str) -> None:
    """The Metaflow side of a terminated SleepyFlow run, read with the client: the
    killed `sleepy` task failed and kept what it printed before it was stopped."""
    run = read_run(folder, pathspec)
    assert not run["successful"]
    assert run["steps"]["start"][0]["successful"] is True
    [sleepy] = run["steps"]["sleepy"]
    assert sleepy["successful"] is False, sleepy
    assert "sleeping" in sleepy["stdout"], sleepy
    assert "end" not in run["steps"]


def write_sleepy_flow(folder: Path) -> Path:
    flow = folder / "sleepy_flow.py"
    flow.write_text(SLEEPY_FLOW)
    return flow


# ---------------------------------------------------------------------------------
# Tests


@pytest.mark.timeout(600)
def test_trigger_typed_parameters_on_webserver(flow_dir: Path) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    flow = copy_flow("param_flow.py", flow_dir)
    create(flow, None)  # the default file, param_flow_dagster.py, as trigger expects
    with dagster_dev(flow_dir, "param_flow_dagster.py") as url:
        timings["dagster_dev"] = time.monotonic() - t0
        env = {"DAGSTER_URL": url}
        run_id_file = flow_dir / "run-id"
        t1 = time.monotonic()
        proc = flow_cli(
            flow,
            "dagster",
            "trigger",
            "--who",
            "world",
            "--count",
            "4",
            "--ratio",
            "0.25",
            "--loud",
            "true",
            "--config-blob",
            '{"k": [1, null], "s": "text"}',
            "--greeting",
            "hi",
            "--run-id-file",
            str(run_id_file),
            env=env,
        )
        timings["trigger"] = time.monotonic() - t1
        output = proc.stdout + proc.stderr
        run_id = run_id_file.read_text()
        assert re.fullmatch(r"dagster-[0-9a-f-]{36}", run_id), repr(run_id)
        pathspec = triggered_pathspec(output)
        assert pathspec == f"ParamFlow/{run_id}"
        assert f"{url}/runs/{run_id[len('dagster-') :]}" in output

        t2 = time.monotonic()
        final = poll_status(flow, run_id, launch.FINISHED, env)
        timings["run"] = time.monotonic() - t2
        assert final == "SUCCESS"
        # The bare Dagster run id names the same run.
        proc = flow_cli(
            flow, "dagster", "status", "--run-id", run_id[len("dagster-") :], env=env
        )
        assert proc.stdout.strip() == "SUCCESS"

    run = read_run(flow_dir, pathspec)
    assert run["successful"] and run["finished"]
    [start] = run["steps"]["start"]
    seen = start["artifacts"]["seen"]
    assert seen == {
        "greeting": "hi",
        "count": 4,
        "ratio": 0.25,
        "loud": True,
        "config_blob": {"k": [1, None], "s": "text"},
        "class": "k",  # not given: the job's default
        "who": "world",
        "maybe": None,
    }
    # JSON round trips keep Python types: int stays int, float float, bool bool.
    assert [type(seen[k]).__name__ for k in ("count", "ratio", "loud")] == [
        "int",
        "float",
        "bool",
    ]
    assert start["artifacts"]["message"] == "HI HI HI HI WORLD"
    print("timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))


@pytest.mark.timeout(600)
def test_terminate_stops_a_long_running_step(flow_dir: Path) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    flow = write_sleepy_flow(flow_dir)
    create(flow, "sleepy_defs.py", "--name", "sleepy_job")
    marker = f"mfdg-marker-{uuid.uuid4().hex}"
    with dagster_dev(flow_dir, "sleepy_defs.py") as url:
        timings["dagster_dev"] = time.monotonic() - t0
        env = {"DAGSTER_URL": url}
        run_id_file = flow_dir / "run-id"
        flow_cli(
            flow,
            "dagster",
            "trigger",
            "--file",
            "sleepy_defs.py",
            "--marker",
            marker,
            "--run-id-file",
            str(run_id_file),
            env=env,
        )
        run_id = run_id_file.read_text()
        t1 = time.monotonic()
        step = step_session(marker, flow)
        timings["until_sleeping"] = time.monotonic() - t1
        assert poll_status(flow, run_id, ("STARTED",), env, timeout=10) == "STARTED"

        t2 = time.monotonic()
        proc = flow_cli(flow, "dagster", "terminate", "--run-id", run_id, env=env)
        timings["terminate"] = time.monotonic() - t2
        assert proc.stdout.strip() == "CANCELED", proc.stdout + proc.stderr
        # The step's whole process tree ends within 10 s of the request.
        assert_no_survivors((marker,), sessions=(step,), deadline=t2 + 10)
        proc = flow_cli(flow, "dagster", "status", "--run-id", run_id, env=env)
        assert proc.stdout.strip() == "CANCELED"
        # Terminating a finished run says so and succeeds.
        proc = flow_cli(flow, "dagster", "terminate", "--run-id", run_id, env=env)
        assert proc.stdout.strip() == "CANCELED"
        assert "already finished" in proc.stderr
    assert_killed_step_recorded(flow_dir, f"SleepyFlow/{run_id}")
    print("timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))


@pytest.mark.timeout(600)
def test_background_launch_without_webserver(flow_dir: Path) -> None:
    """No webserver answers: the run executes in a detached process, recorded in
    $DAGSTER_HOME's instance; status and terminate work there too."""
    timings: dict[str, float] = {}
    flow = write_sleepy_flow(flow_dir)
    create(flow, None)
    marker = f"mfdg-marker-{uuid.uuid4().hex}"
    env = {
        "DAGSTER_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "DAGSTER_HOME": str(dagster_home(flow_dir)),
    }
    run_id_file = flow_dir / "run-id"
    t0 = time.monotonic()
    proc = flow_cli(
        flow,
        "dagster",
        "trigger",
        "--marker",
        marker,
        "--run-id-file",
        str(run_id_file),
        env=env,
    )
    timings["trigger"] = time.monotonic() - t0
    assert "launching the run in a background process" in proc.stderr
    run_id = run_id_file.read_text()
    assert triggered_pathspec(proc.stderr) == f"SleepyFlow/{run_id}"
    try:
        step = step_session(marker, flow)
        timings["until_sleeping"] = time.monotonic() - t0
        assert poll_status(flow, run_id, ("STARTED",), env, timeout=10) == "STARTED"
        t1 = time.monotonic()
        proc = flow_cli(flow, "dagster", "terminate", "--run-id", run_id, env=env)
        timings["terminate"] = time.monotonic() - t1
        log = Path(env["DAGSTER_HOME"]) / "metaflow_dagster" / f"{run_id[8:]}.log"
        assert proc.stdout.strip() == "CANCELED", (
            f"{proc.stdout}{proc.stderr}\nlauncher log:\n{_tail(log)}"
        )
        assert_no_survivors(
            (marker,), ("metaflow_dagster.launch", run_id[8:]), sessions=(step,)
        )
    finally:
        # Never leave the detached launcher behind, even when an assertion failed.
        for line in processes_with("metaflow_dagster.launch", run_id[8:]):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
    assert_killed_step_recorded(flow_dir, f"SleepyFlow/{run_id}")
    print("timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))


def test_trigger_explains_what_is_missing(flow_dir: Path) -> None:
    flow = copy_flow("param_flow.py", flow_dir)
    create(flow, None)
    nobody = {"DAGSTER_URL": f"http://127.0.0.1:{free_port()}"}
    env = {**nobody, "DAGSTER_HOME": ""}
    proc = flow_cli(flow, "dagster", "trigger", "--who", "x", env=env, check=False)
    assert proc.returncode != 0
    assert "DAGSTER_HOME is not set" in proc.stderr, proc.stderr
    proc = flow_cli(
        flow,
        "dagster",
        "trigger",
        "--who",
        "x",
        "--name",
        "NoSuchJob",
        env=env,
        check=False,
    )
    assert proc.returncode != 0
    assert "no job 'NoSuchJob' of this flow (ParamFlow)" in proc.stderr, proc.stderr
    proc = flow_cli(
        flow,
        "dagster",
        "trigger",
        "--who",
        "x",
        "--file",
        "missing.py",
        env=env,
        check=False,
    )
    assert proc.returncode != 0
    assert "No Dagster definitions file at missing.py" in proc.stderr, proc.stderr
    # A required parameter stays required, as with `run`.
    proc = flow_cli(flow, "dagster", "trigger", env=env, check=False)
    assert proc.returncode != 0
    assert "--who" in proc.stderr
    # The webserver launcher does not fall back to the background.
    proc = flow_cli(
        flow,
        "dagster",
        "trigger",
        "--who",
        "x",
        "--launcher",
        "webserver",
        env=env,
        check=False,
    )
    assert proc.returncode != 0
    assert nobody["DAGSTER_URL"] in proc.stderr, proc.stderr


CLASH_FLOW = """
import time

from metaflow import FlowSpec, Parameter, step


class ClashFlow(FlowSpec):
    who = Parameter("name", default="nobody")
    path = Parameter("file", default="none.txt")

    @step
    def start(self):
        time.sleep(60)  # long enough to be stopped while it runs
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClashFlow()
"""


@pytest.mark.timeout(600)
def test_flow_parameters_named_like_trigger_options(flow_dir: Path) -> None:
    """Parameters `name` and `file` take `--name`/`--file`; the job and the generated
    file are then given as --dagster-job/--dagster-file."""
    flow = flow_dir / "clash_flow.py"
    flow.write_text(CLASH_FLOW)
    create(flow, "clash_defs.py", "--name", "clash_job")
    home = dagster_home(flow_dir)
    env = {
        "DAGSTER_URL": f"http://127.0.0.1:{free_port()}",
        "DAGSTER_HOME": str(home),
    }
    run_id_file = flow_dir / "run-id"
    flow_cli(
        flow,
        "dagster",
        "trigger",
        "--name",
        "a value",
        "--file",
        "data.txt",
        "--dagster-job",
        "clash_job",
        "--dagster-file",
        "clash_defs.py",
        "--launcher",
        "background",
        "--run-id-file",
        str(run_id_file),
        env=env,
    )
    dagster_run_id = run_id_file.read_text()[len("dagster-") :]
    try:
        from dagster import DagsterInstance

        run = DagsterInstance.from_config(str(home)).get_run_by_id(dagster_run_id)
        assert run is not None and run.job_name == "clash_job"
        assert run.run_config == {
            "ops": {"op_start": {"config": {"name": "a value", "file": "data.txt"}}}
        }
        # Stopping it at once (its process may still be starting) works too.
        proc = flow_cli(
            flow, "dagster", "terminate", "--run-id", dagster_run_id, env=env
        )
        log = home / "metaflow_dagster" / f"{dagster_run_id}.log"
        assert proc.stdout.strip() == "CANCELED", (
            f"{proc.stdout}{proc.stderr}\nlauncher log:\n{_tail(log)}"
        )
        assert_no_survivors(("metaflow_dagster.launch", dagster_run_id))
    finally:
        for line in processes_with("metaflow_dagster.launch", dagster_run_id):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)


def test_trigger_refuses_parameters_that_hide_its_options(flow_dir: Path) -> None:
    flow = flow_dir / "clash_flow.py"
    flow.write_text(CLASH_FLOW.replace('Parameter("file"', 'Parameter("launcher"'))
    create(flow, None)
    proc = flow_cli(flow, "dagster", "trigger", check=False)
    assert proc.returncode != 0
    assert "clash with options of `dagster trigger`: --launcher" in proc.stderr, (
        proc.stderr
    )
