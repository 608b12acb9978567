"""What each op does around its Metaflow task: live logs, persisted logs, metadata."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import compile_flow, read_run, run_cli, run_pathspec, task_id
from dagster import DagsterInstance


class TimedStream(io.TextIOBase):
    """Records when each piece of text was written."""

    def __init__(self) -> None:
        self.writes: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.writes.append((time.monotonic(), text))
        return len(text)

    def first(self, needle: str) -> float:
        return next(t for t, text in self.writes if needle in text)


def test_step_output_streams_live_and_is_persisted(
    flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, module = compile_flow("slow_print_flow.py", flow_dir)
    out, err = TimedStream(), TimedStream()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    result = module.SlowPrintFlow.execute_in_process()
    monkeypatch.undo()
    assert result.success
    # The step sleeps 3 s between its two lines: the first must arrive well before.
    assert out.first("second line") - out.first("first line") > 2.0
    assert err.first("to stderr") < out.first("second line")
    run = read_run(flow_dir, run_pathspec(result))
    [start] = run["steps"]["start"]
    assert "first line" in start["stdout"] and "second line" in start["stdout"]
    # `python flow.py logs` reads the same persisted logs.
    pathspec = run_pathspec(result).split("/", 1)[1]
    logs = run_cli(["slow_print_flow.py", "logs", f"{pathspec}/start"], cwd=flow_dir)
    assert "first line" in logs.stdout + logs.stderr
    logs = run_cli(
        ["slow_print_flow.py", "logs", "--stderr", f"{pathspec}/start"], cwd=flow_dir
    )
    assert "to stderr" in logs.stdout + logs.stderr


def test_each_op_logs_its_command_and_attaches_metadata(flow_dir: Path) -> None:
    _, module = compile_flow("branch_flow.py", flow_dir)
    instance = DagsterInstance.ephemeral()
    result = module.BranchFlow.execute_in_process(instance=instance)
    assert result.success
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    commands = [m for m in messages if m.startswith("Running: ")]
    assert any(" step start " in c and "--input-paths" in c for c in commands)
    assert any(" init " in c and "--task-id params" in c for c in commands)
    pathspec = run_pathspec(result)
    outputs = {
        e.step_key: e.event_specific_data.metadata
        for e in result.all_events
        if e.event_type_value == "STEP_OUTPUT"
    }
    right = outputs["op_right"]
    assert right["metaflow pathspec"].value == f"{pathspec}/right/{task_id('right')}"
    assert right["artifacts"].value == ["base", "right_total"]
    snippet = right["retrieve"].value
    assert f"Task('{pathspec}/right/{task_id('right')}', attempt=0)" in snippet
    # The snippet works as written, against the same datastore.
    code = snippet.split("```python\n", 1)[1].split("```", 1)[0]
    code = "from metaflow import namespace\nnamespace(None)\n" + code
    code += "print(task['right_total'].data)\n"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=flow_dir, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "30"
