"""Faults injected for real: a step killed by SIGKILL, a step that exits non-zero
without an exception, a step that floods stdout, the op process killed mid-step, an
unwritable datastore, and a compiler that crashes or misbehaves during `create`.

Each run fault must end as a failed Dagster run, with the Metaflow task not successful,
a failure message that says what happened, and no process of the step left behind.
Each `create` fault must leave the output file untouched and no temporary file.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import (
    FLOWS,
    create,
    is_gone,
    is_launcher,
    load_module,
    multiprocess_result,
    read_run,
    run_pathspec,
    start_multiprocess_run,
    task_id,
)

FAULTS = FLOWS / "faults"


def compile_fault(
    name: str, folder: Path, *options: str, top: tuple[str, ...] = ()
) -> tuple[Path, ModuleType]:
    flow = folder / name
    shutil.copy(FAULTS / name, flow)
    create(flow, "defs.py", *options, top=top)
    return flow, load_module(folder / "defs.py")


def failure_texts(result: Any, step_key: str) -> list[str]:
    """Each STEP_FAILURE of an op: its message followed by every cause's."""
    texts = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE" or event.step_key != step_key:
            continue
        parts = []
        error = event.event_specific_data.error
        while error is not None:
            parts.append(error.message)
            error = error.cause
        texts.append("\n".join(parts))
    return texts


def ran(result: Any) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}


def metaflow_run_of(result: Any) -> str:
    return f"dagster-{result.run_id}"


# A marker in the environment of everything a test starts: every process of a step
# inherits it, so the survivors of a fault can be found whatever their command line.
MARKER_VAR = "METAFLOW_DAGSTER_FAULT_MARKER"


@pytest.fixture
def marker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARKER_VAR, value)
    yield value
    for pid, _ in survivors(value):  # only processes this test started
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def survivors(marker: str) -> list[tuple[int, str]]:
    """Processes (other than this one) whose environment carries the marker."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        # The multiprocess executor's forkserver and resource tracker serve every job
        # this test process runs; they are not the step's.
        if b"multiprocessing.forkserver" in cmdline:
            continue
        if b"multiprocessing.resource_tracker" in cmdline:
            continue
        # Started with a step's environment to fork tasks; it leaves when its job does.
        if is_launcher(cmdline):
            continue
        if state != "Z" and needle in environ.split(b"\0"):
            found.append((int(entry), cmdline.replace(b"\0", b" ").decode()[:200]))
    return found


def assert_no_survivors(marker: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while survivors(marker) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert survivors(marker) == [], "processes of the step survived"


# ---------------------------------------------------------------------------------
# A step's own process dies


def test_step_killed_by_sigkill(flow_dir: Path, marker: str) -> None:
    _, module = compile_fault("sigkill_flow.py", flow_dir)
    result = module.FaultSigkillFlow.execute_in_process(raise_on_error=False)
    assert not result.success
    assert "op_end" not in ran(result)
    [text] = failure_texts(result, "op_boom")
    assert f"FaultSigkillFlow/{metaflow_run_of(result)}/boom/{task_id('boom')}" in text
    assert "SIGKILL" in text, text
    run = read_run(flow_dir, run_pathspec(result))
    [boom] = run["steps"]["boom"]
    assert boom["successful"] is False
    assert "about to SIGKILL myself" in boom["stdout"]
    assert run["successful"] is False
    assert_no_survivors(marker)


def test_step_killed_by_sigkill_is_retried_then_fails(
    flow_dir: Path, marker: str
) -> None:
    """With `--with retry:times=1`: the op retries once (a new Metaflow attempt of the
    same task), then the run fails; neither attempt looks successful."""
    _, module = compile_fault(
        "sigkill_flow.py", flow_dir, "--with", "retry:times=1,minutes_between_retries=0"
    )
    result = module.FaultSigkillFlow.execute_in_process(raise_on_error=False)
    assert not result.success
    retried = [
        e
        for e in result.all_events
        if e.event_type_value == "STEP_UP_FOR_RETRY" and e.step_key == "op_boom"
    ]
    assert len(retried) == 1
    [text] = failure_texts(result, "op_boom")
    boom = task_id("boom")
    assert f"FaultSigkillFlow/{metaflow_run_of(result)}/boom/{boom} (attempt 1)" in text
    run = read_run(flow_dir, run_pathspec(result))
    [boom] = run["steps"]["boom"]
    assert boom["attempt"] == 1
    assert boom["successful"] is False
    assert run["successful"] is False
    assert_no_survivors(marker)


def test_step_exits_non_zero_without_an_exception(flow_dir: Path, marker: str) -> None:
    _, module = compile_fault("exit_flow.py", flow_dir)
    result = module.FaultExitFlow.execute_in_process(raise_on_error=False)
    assert not result.success
    assert "op_end" not in ran(result)
    [text] = failure_texts(result, "op_leave")
    assert f"FaultExitFlow/{metaflow_run_of(result)}/leave/{task_id('leave')}" in text
    assert "exit code 3" in text, text
    run = read_run(flow_dir, run_pathspec(result))
    [leave] = run["steps"]["leave"]
    assert leave["successful"] is False
    assert "leaving with exit code 3" in leave["stdout"]
    assert_no_survivors(marker)


def test_step_writing_20_mb_to_stdout(flow_dir: Path, marker: str) -> None:
    """No pipe deadlock, nothing lost: every line reaches the persisted task log
    (with a log size limit above what the step writes: `run`'s default of 10 MB would
    truncate it, as it does natively; tests/test_run_limits.py covers that)."""
    _, module = compile_fault("chatty_flow.py", flow_dir, "--max-log-size", "64")
    started = time.monotonic()
    result = module.FaultChattyFlow.execute_in_process()
    elapsed = time.monotonic() - started
    assert result.success
    assert elapsed < 120, elapsed
    pathspec = run_pathspec(result)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from metaflow import Task, namespace\n"
            "namespace(None)\n"
            "task = Task(sys.argv[1])\n"
            "out = task.stdout\n"
            "lines = out.split('\\n')\n"
            "print(len(out), len(lines), lines[0][:9], lines[199999][:9],\n"
            "      len(lines[200000]), task['lines'].data, 'stderr' in task.stderr)\n",
            f"{pathspec}/talk/{task_id('talk')}",
        ],
        cwd=flow_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    size, count, first, last, tail, lines, stderr = proc.stdout.split()
    assert int(size) >= 21_000_000
    assert (first, last, lines, stderr) == ("00000000", "00199999", "200000", "True")
    assert int(count) >= 200_001
    assert int(tail) == 1_000_000  # the last line had no newline of its own
    assert_no_survivors(marker)


# ---------------------------------------------------------------------------------
# The op process dies mid-step (multiprocess executor, as under `dagster dev`)


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_op_process_killed_mid_step(
    flow_dir: Path, marker: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SIGKILL the op process (as the OOM killer would) under the multiprocess
    executor: its step runs in a session of its own, so only the reaper can stop it.
    The step and its child must die within 10 seconds, the step must never finish,
    and the Dagster run must fail."""
    run, pid_dir = _start_sleepy(
        flow_dir, tmp_path, monkeypatch, "--executor", "multiprocess"
    )
    try:
        step_pid, child_pid = _step_pids(pid_dir, run)
        op_pid = _parent_of(step_pid)
        assert op_pid not in (os.getpid(), run.pid, 1)
        os.kill(op_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        _assert_dies_within(10, step_pid, child_pid, killed_at)
        outcome = multiprocess_result(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()

    assert outcome["success"] is False
    assert not any(" step end " in m for m in outcome["logs"])
    # Dagster's own report: the op process is gone, so nothing of ours could add to it.
    assert "ChildProcessCrashException" in outcome["failures"]["op_nap"]
    pathspec = f"FaultSleepyFlow/dagster-{outcome['run_id']}"
    _assert_never_finished(flow_dir, pathspec, killed_at)
    assert_no_survivors(marker)


def test_run_process_killed_mid_step(
    flow_dir: Path, marker: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The thread executor (the default): SIGKILL the run's process, whose threads are
    the ops. The step (forked by a launcher, in a session of its own) and its child
    must die within 10 seconds and never finish; the launcher leaves too."""
    run, pid_dir = _start_sleepy(flow_dir, tmp_path, monkeypatch)
    try:
        step_pid, child_pid, run_id = _step_record(pid_dir, run)
        launcher_pid = _parent_of(step_pid)
        assert is_launcher(Path(f"/proc/{launcher_pid}/cmdline").read_bytes())
        assert _parent_of(launcher_pid) == run.pid
        run.kill()
        run.wait()
        killed_at = time.monotonic()
        _assert_dies_within(10, step_pid, child_pid, killed_at)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    _assert_never_finished(flow_dir, f"FaultSleepyFlow/{run_id}", killed_at)
    deadline = time.monotonic() + 10
    while not is_gone(launcher_pid):
        assert time.monotonic() < deadline, "the launcher outlived its job"
        time.sleep(0.1)
    assert_no_survivors(marker)


def _start_sleepy(
    flow_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *options: str
) -> tuple[subprocess.Popen[str], Path]:
    """Start the sleepy flow's job in a new process; its nap step records its pids."""
    compile_fault("sleepy_flow.py", flow_dir, *options)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    monkeypatch.setenv("FAULT_PID_DIR", str(pid_dir))
    monkeypatch.setenv("FAULT_SLEEP_SECONDS", "25")
    run = start_multiprocess_run(
        flow_dir / "defs.py", "FaultSleepyFlow", tmp_path / "h"
    )
    return run, pid_dir


def _step_pids(pid_dir: Path, run: subprocess.Popen[str]) -> tuple[int, int]:
    """The nap step's pid and its child's, once the step has started."""
    step_pid, child_pid, _ = _step_record(pid_dir, run)
    return step_pid, child_pid


def _step_record(pid_dir: Path, run: subprocess.Popen[str]) -> tuple[int, int, str]:
    """The nap step's pid, its child's and its Metaflow run id, once it started."""
    deadline = time.monotonic() + 180
    while not (pid_dir / "pids").exists():
        assert time.monotonic() < deadline, "the step never started"
        assert run.poll() is None, "the run ended before the step started"
        time.sleep(0.2)
    step_pid, child_pid, run_id = (pid_dir / "pids").read_text().split()
    return int(step_pid), int(child_pid), run_id


def _assert_dies_within(
    seconds: float, step_pid: int, child_pid: int, killed_at: float
) -> None:
    while not (is_gone(step_pid) and is_gone(child_pid)):
        assert time.monotonic() - killed_at < seconds, "the step outlived its op"
        time.sleep(0.1)


def _assert_never_finished(flow_dir: Path, pathspec: str, killed_at: float) -> None:
    metaflow_run = read_run(flow_dir, pathspec)
    [nap] = metaflow_run["steps"]["nap"]
    assert nap["successful"] is False
    assert "finished_nap" not in nap["artifacts"]
    assert metaflow_run["successful"] is False
    # Had the step survived, it would have finished (and saved `finished_nap`) by now.
    time.sleep(max(0.0, killed_at + 27 - time.monotonic()))
    metaflow_run = read_run(flow_dir, pathspec)
    assert "finished_nap" not in metaflow_run["steps"]["nap"][0]["artifacts"]


# ---------------------------------------------------------------------------------
# The datastore becomes unwritable


def test_unwritable_datastore_fails_the_run(
    flow_dir: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests run as root, which ignores permissions: the start step puts a regular
    file where the next step's datastore directory must go."""
    # Metaflow's client finds a local datastore as `<sysroot>/.metaflow`.
    root = flow_dir / "elsewhere" / ".metaflow"
    root.mkdir(parents=True)
    _, module = compile_fault(
        "sabotage_flow.py",
        flow_dir,
        top=("--datastore=local", f"--datastore-root={root}"),
    )
    monkeypatch.setenv("FAULT_DATASTORE_ROOT", str(root))
    result = module.FaultSabotageFlow.execute_in_process(raise_on_error=False)
    assert not result.success
    [text] = failure_texts(result, "op_end")
    run_dir = root / "FaultSabotageFlow" / metaflow_run_of(result)
    assert "Not a directory" in text, text
    assert str(run_dir / "end") in text, text
    assert (run_dir / "end").is_file()
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(root.parent))
    run = read_run(flow_dir, run_pathspec(result))
    assert run["successful"] is False
    assert all(t["successful"] is False for t in run["steps"].get("end", []))
    assert_no_survivors(marker)


# ---------------------------------------------------------------------------------
# `create` faults: the output file is never partly written


def keep_me(folder: Path) -> Path:
    target = folder / "defs.py"
    target.write_text("# keep me\n")
    return target


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp"))


def fake_node(folder: Path, body: str) -> Path:
    """A stand-in for Node that does what `body` says (a Python script)."""
    script = folder / "fake_node.py"
    script.write_text(f"#!{sys.executable}\nimport os, sys\nsys.stdin.read()\n{body}\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    "kind",
    ["false", "garbage", "truncated", "killed", "ok-but-exit-3"],
)
def test_compiler_crash_leaves_the_output_untouched(kind: str, flow_dir: Path) -> None:
    flow = flow_dir / "exit_flow.py"
    shutil.copy(FAULTS / "exit_flow.py", flow)
    target = keep_me(flow_dir)
    bodies = {
        "garbage": "print('Segmentation fault (core dumped)')",
        "truncated": 'sys.stdout.write(\'{"ok": true, "source": "# half a fi\')',
        "killed": (
            'sys.stdout.write(\'{"ok": true, "source": "# half\')\n'
            "sys.stdout.flush()\nos.kill(os.getpid(), 9)"
        ),
        # Valid JSON, then a crash: the answer of a dying compiler is not trusted.
        "ok-but-exit-3": (
            'sys.stdout.write(\'{"ok": true, "source": "# dying\\\\n"}\')\n'
            "sys.stdout.flush()\nos._exit(3)"
        ),
    }
    node = "/bin/false" if kind == "false" else str(fake_node(flow_dir, bodies[kind]))
    proc = create(flow, "defs.py", env={"METAFLOW_DAGSTER_NODE": node}, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "FaultExitFlow" in out and "compiler" in out, out
    assert target.read_text() == "# keep me\n"
    assert leftovers(flow_dir) == []


def test_write_failure_leaves_the_output_untouched(flow_dir: Path) -> None:
    """The disk fills up while the file is written (RLIMIT_FSIZE: EFBIG)."""
    flow = flow_dir / "exit_flow.py"
    shutil.copy(FAULTS / "exit_flow.py", flow)
    create(flow, "warm.py")  # the datastore and caches exist before the limit
    target = keep_me(flow_dir)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = subprocess.run(
        [sys.executable, flow.name, "dagster", "create", "defs.py"],
        cwd=flow_dir,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        check=False,
    )
    assert proc.returncode != 0
    assert "File too large" in proc.stdout + proc.stderr
    assert target.read_text() == "# keep me\n"
    assert leftovers(flow_dir) == []


def test_output_path_that_is_a_directory_is_refused(flow_dir: Path) -> None:
    flow = flow_dir / "exit_flow.py"
    shutil.copy(FAULTS / "exit_flow.py", flow)
    (flow_dir / "defs.py").mkdir()
    proc = create(flow, "defs.py", check=False)
    assert proc.returncode != 0
    assert (flow_dir / "defs.py").is_dir()
    assert leftovers(flow_dir) == []
