"""Every graph shape runs through Dagster exactly as `python flow.py run` runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    comparable,
    compile_flow,
    native_run,
    read_run,
    run_pathspec,
)

SHAPES = [
    "nested_foreach_flow.py",
    "triple_foreach_flow.py",
    "switch_flow.py",
    "nested_switch_flow.py",
    "switch_in_foreach_flow.py",
    "loop_flow.py",
    "loop_in_foreach_flow.py",
    "custom_start_end_flow.py",
    "single_step_flow.py",
    "parallel_flow.py",
]


def run_both(name: str, folder: Path, config: dict | None = None) -> tuple[dict, dict]:
    flow, module = compile_flow(name, folder)
    job = getattr(module, module.FLOW.name)
    run_config = {"ops": {"op_" + module.FLOW.start_step: {"config": config}}}
    result = job.execute_in_process(run_config=run_config if config else None)
    assert result.success
    ours = read_run(folder, run_pathspec(result, "op_" + module.FLOW.start_step))
    args = [f"--{k}={v}" for k, v in (config or {}).items()]
    native = read_run(folder, native_run(flow, "--max-num-splits", "1000", *args))
    return ours, native


@pytest.mark.parametrize("name", SHAPES)
def test_same_tasks_and_artifacts_as_native(name: str, flow_dir: Path) -> None:
    ours, native = run_both(name, flow_dir)
    assert ours["successful"] and ours["finished"]
    assert comparable(ours) == comparable(native)


@pytest.mark.parametrize("kind", ["high-value", "low value", "skip"])
def test_switch_values_that_are_not_identifiers(kind: str, flow_dir: Path) -> None:
    ours, native = run_both("switch_flow.py", flow_dir, {"kind": kind})
    assert comparable(ours) == comparable(native)
    expected = {"high-value": 101, "low value": 1, "skip": 0}[kind]
    assert ours["steps"]["merge"][0]["artifacts"]["result"] == expected
    taken = {"high-value": {"big", "big_more"}, "low value": {"small"}, "skip": set()}
    assert {"big", "big_more", "small"} & set(ours["steps"]) == taken[kind]
