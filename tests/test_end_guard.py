"""A run whose Metaflow end step did not run is a failed Dagster run.

Dagster skips an op when every source of one of its inputs is missing, and a run whose
ops were skipped still ends green. With switches, a branch op is skipped by design, so a
wiring mistake that starved the end op would pass unnoticed. The end op's one fan-in
input therefore also reads the start op's guard output: the end op always runs, and
fails when nothing but the guard arrived. These tests starve the end op on purpose,
using the generated ops of a real flow in a job wired wrongly.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from conftest import compile_flow, read_run, run_pathspec
from dagster import DagsterEventType, job

# SwitchFlow's start step is the switch; "high-value" takes big -> big_more -> merge.
RUN_CONFIG = {"ops": {"op_start": {"config": {"kind": "high-value"}}}}


def _step_events(result: Any, step_key: str) -> list[str]:
    return [e.event_type_value for e in result.all_events if e.step_key == step_key]


def _starved(module: ModuleType, guarded: bool) -> Any:
    """SwitchFlow, wired so that merge reads only the branch start did not take."""

    @job(name="starved_guarded" if guarded else "starved_unguarded")
    def starved() -> None:
        start = module.op_start()
        small = module.op_small(start.small)
        merge = module.op_merge([small])
        if guarded:
            module.op_end([merge, start.started])
        else:
            module.op_end([merge])

    return starved


def test_a_starved_end_op_fails_the_run(flow_dir: Path) -> None:
    """Only the guard arrives: the end op runs, fails, and so does the run."""
    _, module = compile_flow("switch_flow.py", flow_dir)
    result = _starved(module, guarded=True).execute_in_process(
        run_config=RUN_CONFIG, raise_on_error=False
    )
    assert not result.success
    assert "STEP_SKIPPED" in _step_events(result, "op_small")
    assert "STEP_SKIPPED" in _step_events(result, "op_merge")
    failure = next(
        e
        for e in result.all_events
        if e.step_key == "op_end" and e.event_type == DagsterEventType.STEP_FAILURE
    )
    assert "got none of its inputs" in str(failure.event_specific_data.error)
    # The Metaflow run never got an end task.
    run = read_run(flow_dir, run_pathspec(result))
    assert "end" not in run["steps"]
    assert run["successful"] is False


def test_without_the_guard_dagster_would_report_success(flow_dir: Path) -> None:
    """Why the guard exists: starved of its one input, the end op is skipped, green."""
    _, module = compile_flow("switch_flow.py", flow_dir)
    result = _starved(module, guarded=False).execute_in_process(
        run_config=RUN_CONFIG, raise_on_error=False
    )
    assert result.success
    assert "STEP_SKIPPED" in _step_events(result, "op_end")
