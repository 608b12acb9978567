"""A task is done when Metaflow recorded it done, never because its process exited 0.

Steps of tests/flows/faults/exit_zero_flow.py exit with code 0 before they finish:
`sys.exit(0)` (Metaflow writes the attempt out, without `_task_ok` or a transition) or
`os._exit(0)` (nothing recorded). The same flow runs natively (`python flow.py run`,
the oracle) and as the generated job under each executor, and the outcomes must agree:
the run fails, Run.successful, which steps ran, each task's attempts and artifacts (no
retry, whatever @retry), and the op's failure message reuses native's.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    comparable,
    copy_flow,
    create,
    read_flow_name,
    read_run,
    run_cli,
    task_id,
)
from test_decorators import (
    EXECUTING,
    EXECUTORS,
    attempt_failures,
    events_of,
    executor_options,
    executor_run_config,
    run_job,
)

FLOW = "exit_zero_flow.py"
JOB = "FaultExitZeroFlow"

# The step that exits 0, and how: each on its task's first attempt only (a retry
# would succeed). `retried`, `pick`, `grow` and `end` have @retry(times=1).
CASES = {
    "sys_exit_in_a_linear_step": ("plain", "sys"),
    "os_exit_in_a_linear_step": ("plain", "os"),
    "sys_exit_under_retry": ("retried", "sys"),
    "os_exit_under_retry": ("retried", "os"),
    "sys_exit_in_a_switch": ("pick", "sys"),
    "sys_exit_in_a_loop_iteration": ("grow", "sys"),
    "sys_exit_in_the_end_step": ("end", "sys"),
}
# Which task of the faulty step exits: the loop's second iteration.
FAULTY_TASK = {"grow": task_id("grow") + "-i1"}
# The steps in graph order: none after the faulty one may start.
ORDER = ["start", "plain", "retried", "pick", "a", "b", "grow", "end"]


def fault_env(case: str) -> dict[str, str]:
    step, how = CASES[case]
    return {"FAULT_STEP": step, "FAULT_HOW": how}


def native(flow: Path, env: dict[str, str]) -> dict[str, Any]:
    """`python flow.py run` with `env`: its exit code, error message and run."""
    folder = flow.parent
    run_id_file = folder / f".run-id-{uuid.uuid4().hex[:8]}"
    args = [flow.name, "run", "--run-id-file", str(run_id_file)]
    proc = run_cli(args, cwd=folder, env=env, check=False)
    # Metaflow prints a failure as a headline ("Internal error:") and its message.
    lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()]
    heads = [i for i, line in enumerate(lines) if line.endswith("error:")]
    message = lines[heads[-1] + 1] if heads else None
    pathspec = f"{read_flow_name(flow)}/{run_id_file.read_text().strip()}"
    return {
        "code": proc.returncode,
        "message": message,
        "run": read_run(folder, pathspec),
    }


def attempts(run: dict[str, Any]) -> dict[str, list[tuple[int, bool]]]:
    """Per step, each task's (latest attempt, successful), task ids aside."""
    return {
        step: sorted((t["attempt"], t["successful"]) for t in tasks)
        for step, tasks in run["steps"].items()
    }


@pytest.fixture(scope="module")
def natives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each case's native run (once for the executors' tests)."""
    folder = tmp_path_factory.mktemp("native")
    flow = copy_flow(FLOW, folder)
    return {case: native(flow, fault_env(case)) for case in CASES}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The flow compiled for each executor, each in a folder of its own."""
    folders = {}
    for executor in EXECUTORS:
        folder = tmp_path_factory.mktemp(executor)
        create(copy_flow(FLOW, folder), "defs.py", *executor_options(executor))
        folders[executor] = folder
    return folders


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_step_that_exits_0_unfinished_fails_as_natively(
    executor: str,
    case: str,
    natives: dict[str, dict[str, Any]],
    compiled: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step, _ = CASES[case]
    expected = natives[case]
    folder = compiled[executor]
    for name, value in fault_env(case).items():
        monkeypatch.setenv(name, value)  # run_job's process, so the tasks, inherit it
    result = run_job(folder, JOB, tmp_path / "home", executor)
    pathspec = f"{JOB}/dagster-{result['run_id']}"
    run = read_run(folder, pathspec)

    # Native: the run is not successful, and the task was not retried.
    assert expected["run"]["successful"] is False
    if step == "end":
        # Native `run` reports this run done (no transition is expected of the end
        # step) though Run.successful is False; the Dagster run fails, as its
        # Run.successful says.
        assert expected["code"] == 0 and expected["message"] is None
    else:
        assert expected["code"] != 0 and expected["message"]
    assert not result["success"]
    assert run["successful"] is False
    assert ("end" in run["steps"]) == ("end" in expected["run"]["steps"])
    assert attempts(run) == attempts(expected["run"])
    assert comparable(run) == comparable(expected["run"])

    # The op failed once, was not retried (its RetryPolicy aside), and says why.
    op = f"op_{step}"
    assert events_of(result, op, "STEP_UP_FOR_RETRY") == []
    [failure] = attempt_failures(result, op)
    task = f"{pathspec}/{step}/{FAULTY_TASK.get(step, task_id(step))}"
    assert f"Metaflow task {task} (attempt 0) exited with code 0" in failure, failure
    said = failure.replace("*", "")  # the CLI prints Metaflow's *bold* plainly
    if expected["message"] is not None:
        # Native names its own task where the op names the Dagster run's.
        assert re.sub(r"'[^']*'", f"'{task}'", expected["message"]) in said, said
    if CASES[case][1] == "sys":
        assert "_task_ok=None" in said, said
    started = {e["step"] for e in result["events"] if e["type"] == "STEP_START"}
    after = {f"op_{name}" for name in ORDER[ORDER.index(step) + 1 :]}
    assert not started & after, started


# ---------------------------------------------------------------------------------
# Re-executing a failed run from failure, in a new process each time


_RUN = r"""
import json, sys
from dagster import DagsterInstance, ReexecutionOptions, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

def messages(error):
    out = []
    while error is not None:
        out.append(error.message)
        error = error.cause
    return "\n".join(out)

def main():
    defs, job_name, home, parent, config = sys.argv[1:6]
    # As `dagster dev`'s run worker: nothing of Metaflow imported before the ops run.
    imported_before = "metaflow" in sys.modules
    with DagsterInstance.local_temp(home) as instance:
        job = ReconstructableJob.for_file(defs, job_name)
        options = ReexecutionOptions.from_failure(parent, instance) if parent else None
        with execute_job(
            job, instance=instance, raise_on_error=False, reexecution_options=options,
            run_config=json.loads(config),
        ) as result:
            failures, started, engine = {}, [], []
            for e in result.all_events:
                if e.event_type_value == "STEP_FAILURE":
                    failures[e.step_key] = messages(e.event_specific_data.error)
                if e.event_type_value == "STEP_START":
                    started.append(e.step_key)
                if e.event_type_value == "ENGINE_EVENT":
                    engine.append(e.message or "")
            out = {"success": result.success, "run_id": result.run_id,
                   "root": result.dagster_run.root_run_id or result.run_id,
                   "failures": failures, "started": started, "engine": engine,
                   "imported_before": imported_before}
    print("RESULT " + json.dumps(out))

if __name__ == "__main__":
    main()
"""


def run_fresh(
    folder: Path,
    job: str,
    home: Path,
    executor: str,
    parent: str = "",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Execute the job of `folder/defs.py` (or re-execute `parent` from failure) in a
    new process, with the job's own executor."""
    home.mkdir(exist_ok=True)
    runner = home / "run_fresh.py"
    runner.write_text(_RUN)
    config = json.dumps(executor_run_config(executor))
    args = [str(runner), str(folder / "defs.py"), job, str(home), parent, config]
    proc = run_cli(args, cwd=folder, env=env, check=False)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    out = dict(json.loads(lines[-1][len("RESULT ") :]))
    assert not out["imported_before"]
    assert any(m.startswith(EXECUTING[executor]) for m in out["engine"]), out["engine"]
    return out


@pytest.mark.parametrize("executor", EXECUTORS)
def test_reexecution_reruns_an_unfinished_loop_iteration_only(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """The loop's second iteration exits 0 unfinished: the op fails. Re-executed from
    failure, the loop op keeps the first iteration (Metaflow recorded it done) and runs
    the second again as its next attempt; the run ends as a native run would have."""
    flow = copy_flow(FLOW, flow_dir)
    create(flow, "defs.py", *executor_options(executor))
    home = tmp_path / "home"
    env = fault_env("sys_exit_in_a_loop_iteration")
    first = run_fresh(flow_dir, JOB, home, executor, env=env)
    assert not first["success"]
    assert set(first["failures"]) == {"op_grow"}
    again = run_fresh(flow_dir, JOB, home, executor, parent=first["run_id"])
    assert again["success"], again["failures"]
    assert set(again["started"]) == {"op_grow", "op_end"}
    executions = Counter((flow_dir / "executions.log").read_text().splitlines())
    assert executions == Counter(
        {
            "start": 1,
            "plain": 1,
            "retried attempt 0": 1,
            "pick attempt 0": 1,
            "grow 1 attempt 0": 1,
            "grow 2 attempt 0": 1,
            "grow 2 attempt 1": 1,
            "grow 3 attempt 0": 1,
            "end attempt 0": 1,
        }
    )
    run = read_run(flow_dir, f"{JOB}/dagster-{first['run_id']}")
    assert run["successful"] and run["finished"]
    grow = {t["id"]: t["attempt"] for t in run["steps"]["grow"]}
    assert grow == {f"{task_id('grow')}-i{n}": a for n, a in enumerate([0, 1, 0])}
    # The same artifacts as an uninterrupted native run.
    (flow_dir / "executions.log").unlink()
    expected = native(flow, {})
    assert expected["code"] == 0 and expected["run"]["successful"]
    assert comparable(run) == comparable(expected["run"])
