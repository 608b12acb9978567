"""Ops that pass each other nothing (runtime/derived.py): each finds its inputs' tasks
from the flow's shape, and the run is the one values would have made."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from conftest import comparable, compile_flow, native_run, read_run, run_pathspec
from dagster import DagsterInstance, ReexecutionOptions, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

# Dagster's bookkeeping of a value handed from op to op: none when nothing is handed.
VALUE_EVENTS = {"HANDLED_OUTPUT", "LOADED_INPUT", "STEP_INPUT"}


def event_counts(instance: DagsterInstance, run_id: str) -> Counter[str]:
    return Counter(
        r.dagster_event.event_type_value
        for r in instance.all_logs(run_id)
        if r.dagster_event is not None
    )


def forget_splits(metaflow_run: str) -> int:
    """What a new process knows of the foreach tasks fan_out ran: nothing (every
    generated module loaded in this test process keeps its own table). Returns how
    many tables of that Metaflow run (`Flow/run`) there were."""
    run_id = metaflow_run.split("/")[1]
    forgotten = 0
    for module in list(sys.modules.values()):
        tables = getattr(module, "_TABLES", None)
        if isinstance(tables, dict) and hasattr(module, "derived_inputs"):
            forgotten += sum(path.split("/")[0] == run_id for path in tables)
            tables.clear()
    return forgotten


def foreach_job(flow_dir: Path, tmp_path: Path) -> tuple[Path, Any, Path]:
    """The foreach flow compiled (ops passing nothing), its job, a Dagster home."""
    flow, module = compile_flow("foreach_flow.py", flow_dir)
    assert module.FLOW.derived_inputs
    home = tmp_path / "dagster_home"
    home.mkdir()
    job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ForeachFlow")
    return flow, job, home


def test_ops_pass_nothing_and_the_run_is_natives(
    flow_dir: Path, tmp_path: Path
) -> None:
    # Items [30, 10, 20, 5] and ["c", "a", "b"]: mapping keys are the items ("05" is
    # split 3), so a split finds its index only by the foreach task's own table.
    flow, job, home = foreach_job(flow_dir, tmp_path)
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(job, instance=instance) as result:
            assert result.success
            pathspec = run_pathspec(result)
            steps = {e.step_key for e in result.all_events if e.step_key}
            counts = event_counts(instance, result.run_id)
    assert {"op_body[05]", "op_shout[c]", "op_shout[a]"} <= steps
    assert not VALUE_EVENTS & set(counts), counts
    ours = read_run(flow_dir, pathspec)
    native = read_run(flow_dir, native_run(flow))
    assert ours["successful"] and ours["finished"]
    assert comparable(ours) == comparable(native)


def test_a_split_run_again_finds_its_inputs_without_its_foreach_op(
    flow_dir: Path, tmp_path: Path
) -> None:
    """Re-executing one split and the join, as from Dagster's UI: the foreach op does
    not run, so the split's key comes from the foreach task in the datastore."""
    flow, job, home = foreach_job(flow_dir, tmp_path)
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(job, instance=instance) as first:
            assert first.success
            pathspec = run_pathspec(first)
        # Both foreach tasks' tables, filled by their fan_out ops in this process.
        assert forget_splits(pathspec) == 2
        options = ReexecutionOptions(
            parent_run_id=first.run_id,
            step_selection=["op_shout[a]", "op_gather", "op_end"],
        )
        with execute_job(job, instance=instance, reexecution_options=options) as again:
            assert again.success
            ran = {
                e.step_key
                for e in again.all_events
                if e.event_type_value == "STEP_SUCCESS"
            }
    assert ran == {"op_shout[a]", "op_gather", "op_end"}
    ours = read_run(flow_dir, pathspec)
    shout = {t["artifacts"]["loud"]: t["attempt"] for t in ours["steps"]["shout"]}
    # Split "a" (index 1) ran a second attempt, with its own input: "A".
    assert shout == {"C": 0, "A": 1, "B": 0}
    native = read_run(flow_dir, native_run(flow))
    assert comparable(ours) == comparable(native)
