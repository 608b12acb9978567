"""Re-executing a failed Dagster run behaves like `metaflow resume`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conftest import (
    comparable,
    compile_flow,
    native_run,
    read_run,
    run_pathspec,
    task_id,
)
from dagster import DagsterInstance, ReexecutionOptions, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

# What resume_flow.py's user code ran, failed once in body 20 and re-executed from
# failure: every step once, body 20 a second time.
RESUMED_FROM_FAILURE = Counter(
    {
        "start": 1,
        "body 10 attempt 0": 1,
        "body 20 attempt 0": 1,
        "body 20 attempt 1": 1,
        "body 30 attempt 0": 1,
        "join": 1,
        "end": 1,
    }
)


def test_reexecution_from_failure_resumes_the_metaflow_run(
    flow_dir: Path, tmp_path: Path
) -> None:
    flow, _ = compile_flow("resume_flow.py", flow_dir)
    (flow_dir / "fail.marker").write_text("")
    home = tmp_path / "dagster_home"
    home.mkdir()
    job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ResumeFlow")
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(job, instance=instance, raise_on_error=False) as first:
            assert not first.success
            pathspec = run_pathspec(first)
            first_id = first.run_id
        (flow_dir / "fail.marker").unlink()
        options = ReexecutionOptions.from_failure(first_id, instance)
        with execute_job(job, instance=instance, reexecution_options=options) as again:
            assert again.success
    # User code of the steps that had succeeded did not run again.
    executions = Counter((flow_dir / "executions.log").read_text().splitlines())
    assert executions == RESUMED_FROM_FAILURE
    run = read_run(flow_dir, pathspec)
    assert run["successful"] and run["finished"]
    attempts = {t["id"]: t["attempt"] for t in run["steps"]["body"]}
    assert attempts == {task_id("body", str(i)): a for i, a in enumerate([0, 1, 0])}
    # The same artifacts as an uninterrupted native run.
    (flow_dir / "executions.log").unlink()
    native = read_run(flow_dir, native_run(flow))
    assert comparable(run) == comparable(native)
    assert run["steps"]["end"][0]["artifacts"]["total"] == 63


def test_reexecution_of_a_guarded_switch_flow(flow_dir: Path, tmp_path: Path) -> None:
    """The start op of a flow with a switch also emits the end op's guard output: a
    re-execution loads both of its outputs from the failed run, runs only the failed
    branch and what follows, and the end op (guarded) runs."""
    flow, module = compile_flow("resume_switch_flow.py", flow_dir)
    assert {o.name for o in module.op_start.output_defs} == {"slow", "fast", "started"}
    (flow_dir / "fail.marker").write_text("")
    home = tmp_path / "dagster_home"
    home.mkdir()
    job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ResumeSwitchFlow")
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(job, instance=instance, raise_on_error=False) as first:
            assert not first.success
            pathspec = f"ResumeSwitchFlow/dagster-{first.run_id}"
            first_id = first.run_id
        (flow_dir / "fail.marker").unlink()
        options = ReexecutionOptions.from_failure(first_id, instance)
        with execute_job(job, instance=instance, reexecution_options=options) as again:
            assert again.success
            ran = {
                e.step_key
                for e in again.all_events
                if e.event_type_value == "STEP_SUCCESS"
            }
            skipped = {
                e.step_key
                for e in again.all_events
                if e.event_type_value == "STEP_SKIPPED"
            }
    assert ran == {"op_slow", "op_merge", "op_end"}
    assert "op_start" not in ran | skipped
    executions = Counter((flow_dir / "executions.log").read_text().splitlines())
    assert executions == Counter({"start": 1, "slow": 2, "merge": 1, "end": 1})
    run = read_run(flow_dir, pathspec)
    assert run["successful"] and run["finished"]
    assert set(run["steps"]) == {"start", "slow", "merge", "end"}
    (flow_dir / "executions.log").unlink()
    native = read_run(flow_dir, native_run(flow))
    assert comparable(run) == comparable(native)
