"""Warm task launch (fast launch, the default): a task forks from a process that has
Metaflow imported instead of starting a new interpreter. Under the thread executor (the
default) that process is a launcher started with the task's environment; under the
multiprocess executor it is the op process itself. Either way the task must be
indistinguishable from a cold one: environment, working directory, argv and sys.path,
signals, stdio, logs and exit status. Each test runs the same flow warm and cold
(`--no-fast-launch`) in a new process, as `dagster dev`'s run worker does, and
compares."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    FLOWS,
    copy_flow,
    create,
    is_launcher,
    multiprocess_run,
    read_run,
)

FAULTS = FLOWS / "faults"


def commands(result: dict[str, Any]) -> list[str]:
    return [m for m in result["logs"] if m.startswith("Running: ")]


def seen(flow_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    run_id = f"dagster-{result['run_id']}"
    run = read_run(flow_dir, f"FidelityFlow/{run_id}")
    [start] = run["steps"]["start"]
    out = dict(start["artifacts"])
    out["argv"] = [a.replace(run_id, "<run>") for a in out["argv"]]
    out["stdout"] = start["stdout"]
    out["stderr"] = start["stderr"]
    return out


EXECUTORS = ("threads", "multiprocess")


def forked_by(executor: str, cmdline: str) -> bool:
    """Whether a warm task's /proc cmdline is that of the process it forked from."""
    if executor == "threads":
        return is_launcher(cmdline.encode())
    return "forkserver" in cmdline


@pytest.mark.parametrize("executor", EXECUTORS)
def test_warm_task_matches_a_cold_one(
    executor: str, flow_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIDELITY_MARK", "x'y\"z")
    flow = copy_flow("fidelity_flow.py", flow_dir)
    create(flow, "warm_defs.py", "--executor", executor)
    create(flow, "cold_defs.py", "--no-fast-launch")
    warm_defs, cold_defs = flow_dir / "warm_defs.py", flow_dir / "cold_defs.py"
    result = multiprocess_run(warm_defs, "FidelityFlow", tmp_path / "w")
    assert result["success"]
    warm = seen(flow_dir, result)
    warm_commands = commands(result)
    result = multiprocess_run(cold_defs, "FidelityFlow", tmp_path / "c")
    assert result["success"]
    cold = seen(flow_dir, result)
    # The warm task really forked (its command line is the launcher's, or the op's: a
    # fork server's child); the cold one is the `step` command itself.
    assert forked_by(executor, warm.pop("cmdline"))
    assert " step start " in cold.pop("cmdline")
    assert all("(cold:" not in c for c in warm_commands), warm_commands
    # Threads: a cold task has only its own; a forked one only the forking thread.
    assert warm.pop("threads") == cold.pop("threads")
    assert warm == cold
    assert warm["module"] == "__main__"
    assert warm["cwd"] == str(flow_dir)
    assert warm["path0"] == str(flow_dir)
    assert warm["session_leader"] is True
    assert warm["stdin"] == ""
    assert warm["env"]["FIDELITY_MARK"] == "x'y\"z"
    assert "fidelity to stdout" in warm["stdout"]
    assert "fidelity to stderr" in warm["stderr"]


@pytest.mark.parametrize(
    ("fault", "job", "step_key", "says"),
    [
        ("exit_flow.py", "FaultExitFlow", "op_leave", "exit code 3"),
        ("sigkill_flow.py", "FaultSigkillFlow", "op_boom", "killed by signal SIGKILL"),
    ],
)
def test_warm_task_exit_status_matches_a_cold_one(
    fault: str, job: str, step_key: str, says: str, flow_dir: Path, tmp_path: Path
) -> None:
    flow = flow_dir / fault
    shutil.copy(FAULTS / fault, flow)
    create(flow, "warm_defs.py")
    create(flow, "mp_defs.py", "--executor", "multiprocess")
    create(flow, "cold_defs.py", "--no-fast-launch")
    texts = {}
    for how in ("warm", "mp", "cold"):
        defs = flow_dir / f"{how}_defs.py"
        result = multiprocess_run(defs, job, tmp_path / how)
        assert not result["success"]
        texts[how] = result["failures"][step_key]
        if how != "cold":
            assert all("(cold:" not in c for c in commands(result))
    for how, text in texts.items():
        assert says in text, (how, text)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_task_that_sets_metaflow_config_gets_a_launcher_of_its_own(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """@environment setting a METAFLOW_* variable: Metaflow reads it at import, which a
    process that imported Metaflow without it already did. The task runs warm in a
    launcher started with its own environment; nothing falls back to a cold start."""
    flow = copy_flow("fidelity_flow.py", flow_dir)
    source = flow.read_text().replace(
        "from metaflow import FlowSpec, step",
        "from metaflow import FlowSpec, environment, step",
    )
    source = source.replace(
        "    @step\n    def start(self):",
        '    @environment(vars={"METAFLOW_DEBUG_SUBCOMMAND": "0"})\n'
        "    @step\n    def start(self):",
    )
    flow.write_text(source)
    create(flow, "defs.py", "--executor", executor)
    result = multiprocess_run(flow_dir / "defs.py", "FidelityFlow", tmp_path / "h")
    assert result["success"]
    assert all("(cold:" not in c for c in commands(result)), commands(result)
    run = seen(flow_dir, result)
    assert is_launcher(run["cmdline"].encode()), run["cmdline"]
    assert run["env"]["METAFLOW_DEBUG_SUBCOMMAND"] == "0"
