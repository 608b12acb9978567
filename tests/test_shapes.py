"""Spine shapes: linear, split/join (nested), foreach, foreach in a branch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import (
    artifacts,
    compile_flow,
    native_run,
    read_run,
    run_pathspec,
    task_id,
)
from dagster import DagsterInstance, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob


def run_in_process(name: str, folder: Path) -> dict:
    _, module = compile_flow(name, folder)
    job = next(v for k, v in vars(module).items() if k == module.FLOW.name)
    result = job.execute_in_process()
    assert result.success
    return read_run(folder, run_pathspec(result))


def test_linear(flow_dir: Path) -> None:
    run = run_in_process("linear_flow.py", flow_dir)
    assert run["successful"] and run["finished"]
    assert artifacts(run, "start") == [{"value": 42}]
    assert artifacts(run, "double") == [{"value": 84}]
    assert [t["id"] for t in run["steps"]["end"]] == [task_id("end")]
    assert run["parameter_tasks"] == ["params"]


def test_split_join_with_nested_split(flow_dir: Path) -> None:
    run = run_in_process("branch_flow.py", flow_dir)
    assert run["successful"]
    assert artifacts(run, "left_join")[0]["left_total"] == 23
    assert artifacts(run, "right")[0]["right_total"] == 30
    assert artifacts(run, "end")[0]["total"] == 53


def test_foreach_in_branch(flow_dir: Path) -> None:
    run = run_in_process("foreach_in_branch_flow.py", flow_dir)
    assert run["successful"]
    assert artifacts(run, "join")[0]["lengths"] == [5, 5, 7]
    assert artifacts(run, "join")[0]["note"] == "plain branch"
    assert len(run["steps"]["measure"]) == 3


@pytest.mark.parametrize("executor", ["threads", "multiprocess"])
def test_foreach_parallel_in_split_order(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """Each split is its own Dagster step, run in parallel, under either executor."""
    _, module = compile_flow("foreach_flow.py", flow_dir, "--executor", executor)
    # Dagster's name of the executor `--executor` chose.
    executor_name = {"threads": "metaflow_threads", "multiprocess": "multiprocess"}
    assert module.ForeachFlow.executor_def.name == executor_name[executor]
    instance_dir = tmp_path / "dagster_home"
    instance_dir.mkdir()
    with DagsterInstance.local_temp(str(instance_dir)) as instance:
        job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ForeachFlow")
        assert job.get_definition().executor_def.name == executor_name[executor]
        with execute_job(job, instance=instance) as result:
            assert result.success
            pathspec = run_pathspec(result)
            records = instance.all_logs(result.run_id)
    starts, ends, pids = {}, {}, {}
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = record.timestamp
            pids[event.step_key] = event.pid
        elif event.event_type_value == "STEP_SUCCESS":
            ends[event.step_key] = record.timestamp
    step_keys = set(ends)
    # Where the ops ran: threads of this process (execute_job orchestrates here), or
    # each in a process of its own.
    if executor == "threads":
        assert set(pids.values()) == {os.getpid()}
    else:
        assert os.getpid() not in pids.values()
        assert len(set(pids.values())) == len(pids)
    # Keyed by the items: [30, 10, 20, 5] (zero-padded) and "c", "a", "b".
    bodies = [f"op_body[{item}]" for item in ("30", "10", "20", "05")]
    assert set(bodies) <= step_keys
    assert {f"op_shout[{letter}]" for letter in "cab"} <= step_keys
    # Siblings overlap in time: at least two body steps ran concurrently.
    spans = sorted((starts[body], ends[body]) for body in bodies)
    assert any(
        b_start < a_end
        for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)
    )
    run = read_run(flow_dir, pathspec)
    assert run["successful"]
    collect = artifacts(run, "collect")[0]
    # Join inputs in split order, whatever order the splits finished in.
    assert collect["squares"] == [900, 100, 400, 25]
    assert collect["positions"] == [0, 1, 2, 3]
    assert artifacts(run, "gather")[0]["louds"] == ["C", "A", "B"]
    assert sorted(t["index"] for t in run["steps"]["body"]) == [0, 1, 2, 3]


def test_foreach_join_sees_many_splits_in_split_order(
    flow_dir: Path, tmp_path: Path
) -> None:
    """12 splits (so split 10 must come after split 2, not before it as text sorts),
    run in parallel, earlier splits sleeping longer: the join gets its inputs in split
    order, as in a native run."""
    flow, _ = compile_flow("ordered_join_flow.py", flow_dir)
    instance_dir = tmp_path / "dagster_home"
    instance_dir.mkdir()
    with DagsterInstance.local_temp(str(instance_dir)) as instance:
        job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "OrderedJoinFlow")
        with execute_job(job, instance=instance) as result:
            assert result.success
            pathspec = run_pathspec(result)
    run = read_run(flow_dir, pathspec)
    assert run["successful"]
    [join] = artifacts(run, "join")
    assert join["joined_positions"] == list(range(12))
    assert join["joined_items"] == [f"item-{i}" for i in range(12)]
    body = run["steps"]["body"]
    assert sorted(t["index"] for t in body) == list(range(12))
    for task in body:
        assert task["artifacts"]["item"] == f"item-{task['index']}"
    print("splits finished in the order", join["finish_order"])
    # A native run of the same flow joins in the same order.
    native = read_run(flow_dir, native_run(flow))
    [native_join] = artifacts(native, "join")
    for name in ("joined_positions", "joined_items"):
        assert join[name] == native_join[name]
