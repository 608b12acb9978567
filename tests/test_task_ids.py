"""Task ids are unique within a run, as under Metaflow's own runtimes (user code keys
data on `current.task_id`), never all digits, and stable across re-execution."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    compile_flow,
    multiprocess_run,
    native_run,
    read_run,
    run_cli,
    run_pathspec,
)
from dagster import DagsterInstance, ReexecutionOptions, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

# What Metaflow's client, datastores and metadata providers take in a pathspec.
VALID_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
# Steps whose tasks store their own `current.task_id` as `my_id`.
STEPS = ["start", "left", "right", "join", "fork", "body", "gather", "end"]


def expected_id(step: str, key: str | None = None) -> str:
    """`t-<the first 8 hex digits of the SHA-1 of the step's name>[-<mapping key>]`."""
    tag = "t-" + hashlib.sha1(step.encode()).hexdigest()[:8]
    return tag if key is None else f"{tag}-{key}"


def task_ids(run: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every task of the run by (step, task id)."""
    return {(s, t["id"]): t for s, tasks in run["steps"].items() for t in tasks}


def check_ids(run: dict[str, Any], *, native: bool = False) -> None:
    """Distinct ids, each the one its task saw (natively: integers Metaflow's local
    metadata allocates; here never all digits, which it would take for its own)."""
    assert sorted(run["steps"]) == sorted(STEPS)
    tasks = task_ids(run)
    ids = [task_id for _, task_id in tasks] + run["parameter_tasks"]
    assert len(ids) == len(set(ids)), ids
    for task_id in ids:
        assert VALID_ID.fullmatch(task_id), task_id
        assert task_id.isdigit() if native else not task_id.isdigit(), task_id
    if not native:
        assert {key: task["index"] for key, task in tasks.items()} == {
            **{(step, expected_id(step)): None for step in STEPS if step != "body"},
            **{("body", expected_id("body", str(i))): i for i in range(3)},
        }
    # Each task saw its own id as `current.task_id`.
    for (_, task_id), task in tasks.items():
        if task["successful"]:
            assert task["artifacts"]["my_id"] == task_id
    [join] = run["steps"]["join"]
    assert join["artifacts"]["branch_ids"] == sorted(
        t["id"] for s in ("left", "right") for t in run["steps"][s]
    )
    # Foreach tasks in split order: the gather saw them in that order.
    body = sorted(run["steps"]["body"], key=lambda t: t["index"])
    [gather] = run["steps"]["gather"]
    assert gather["artifacts"]["body_ids"] == [t["id"] for t in body]


def shape(run: dict[str, Any]) -> dict[str, int]:
    return {step: len(tasks) for step, tasks in run["steps"].items()}


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_task_ids_are_unique_in_the_run(
    flow_dir: Path, tmp_path: Path, executor: str
) -> None:
    flow, module = compile_flow("task_ids_flow.py", flow_dir)
    if executor == "in_process":
        result = module.TaskIdsFlow.execute_in_process()
        assert result.success
        pathspec = run_pathspec(result)
    else:
        outcome = multiprocess_run(flow_dir / "defs.py", "TaskIdsFlow", tmp_path)
        assert outcome["success"], outcome["failures"]
        pathspec = f"TaskIdsFlow/dagster-{outcome['run_id']}"
    run = read_run(flow_dir, pathspec)
    assert run["successful"] and run["finished"]
    check_ids(run)
    # Natively, too, every task has an id of its own: the same tasks.
    native = read_run(flow_dir, native_run(flow))
    check_ids(native, native=True)
    assert shape(run) == shape(native)


def test_reexecution_keeps_the_ids_of_the_tasks_it_reuses(
    flow_dir: Path, tmp_path: Path
) -> None:
    compile_flow("task_ids_flow.py", flow_dir)
    (flow_dir / "fail.marker").write_text("")
    home = tmp_path / "dagster_home"
    home.mkdir()
    job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "TaskIdsFlow")
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(job, instance=instance, raise_on_error=False) as first:
            assert not first.success
            pathspec = run_pathspec(first)
            first_id = first.run_id
        before = task_ids(read_run(flow_dir, pathspec))
        (flow_dir / "fail.marker").unlink()
        options = ReexecutionOptions.from_failure(first_id, instance)
        with execute_job(job, instance=instance, reexecution_options=options) as again:
            assert again.success
            assert run_pathspec(again, "op_gather") == pathspec
    run = read_run(flow_dir, pathspec)
    assert run["successful"] and run["finished"]
    check_ids(run)
    after = task_ids(run)
    # The failed run got as far as the foreach: body 20 failed, its siblings did not.
    failed = [key for key, task in before.items() if not task["successful"]]
    assert [step for step, _ in failed] == ["body"]
    assert set(before) == set(after) - {
        key for key in after if key[0] in ("gather", "end")
    }
    for key, task in before.items():
        if task["successful"]:
            # Reused as it was: the same task id, the same (only) attempt.
            assert after[key]["attempt"] == task["attempt"] == 0, key
            assert after[key]["artifacts"] == task["artifacts"], key
        else:
            # Run again under its own id, as its next attempt.
            assert after[key]["attempt"] == 1, key
            assert after[key]["successful"], key


def test_branches_storing_their_task_ids_conflict_in_a_merge_as_natively(
    flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`merge_artifacts` refuses artifacts the branches set differently: an id stored
    by each branch is such an artifact, under Metaflow's runtimes and Dagster alike."""
    flow, module = compile_flow("task_ids_flow.py", flow_dir)
    conflict = (
        "Step join cannot merge the following artifacts due to them having "
        "conflicting values: [my_id]."
    )
    native = run_cli(
        [flow.name, "run"], cwd=flow_dir, env={"MERGE_ALL": "1"}, check=False
    )
    assert native.returncode != 0
    native_text = " ".join((native.stdout + native.stderr).split())
    assert "Unhandled artifacts in merge" in native_text
    assert "conflicting values:" in native_text and "[my_id]." in native_text
    monkeypatch.setenv("MERGE_ALL", "1")
    result = module.TaskIdsFlow.execute_in_process(raise_on_error=False)
    assert not result.success
    failures = {
        e.step_key: " ".join(e.event_specific_data.error.message.split())
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    }
    assert list(failures) == ["op_join"]
    assert "Unhandled artifacts in merge" in failures["op_join"]
    assert conflict in failures["op_join"]
