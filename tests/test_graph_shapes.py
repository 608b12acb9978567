"""Every graph shape runs through Dagster exactly as `python flow.py run` runs it.

The jobs run with their own executor (ops as threads of the run's process, as under
`dagster dev`), not `execute_in_process`, which most other tests use."""

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
from dagster import DagsterInstance, execute_job
from dagster._core.definitions.reconstruct import ReconstructableJob

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
    start = "op_" + module.FLOW.start_step
    job = ReconstructableJob.for_file(str(folder / "defs.py"), module.FLOW.name)
    run_config = {"ops": {start: {"config": config}}} if config else {}
    with execute_job(
        job, instance=DagsterInstance.ephemeral(), run_config=run_config
    ) as result:
        assert result.success
        pathspec = run_pathspec(result, start)
    ours = read_run(folder, pathspec)
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
