"""Step and flow decorators behave as under `python flow.py run`: real Metaflow, real
Dagster, failures injected for real (exceptions, hung steps that ignore signals)."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    compile_flow,
    copy_flow,
    create,
    is_gone,
    is_launcher,
    load_module,
    read_run,
    run_cli,
    run_pathspec,
)
from dagster import Definitions


def native_pathspec(flow_class: str, flow: Path, *top: str) -> str:
    """`python flow.py [top-level options] run`; the run's pathspec."""
    id_file = flow.parent / f"run-id-{uuid.uuid4().hex[:8]}"
    run_cli([flow.name, *top, "run", "--run-id-file", str(id_file)], flow.parent)
    return f"{flow_class}/{id_file.read_text()}"


def task(run: dict[str, Any], step: str) -> dict[str, Any]:
    [only] = run["steps"][step]
    return only


def failures(result: Any, step_key: str) -> list[str]:
    """Messages of an op's failed attempts (retried or final), in order."""
    messages = []
    for event in result.all_events:
        if event.step_key != step_key:
            continue
        if event.event_type_value not in ("STEP_UP_FOR_RETRY", "STEP_FAILURE"):
            continue
        error = event.event_specific_data.error
        if error is not None and error.cause is not None:
            error = error.cause
        messages.append(error.message if error is not None else "")
    return messages


def started(result: Any) -> set[str]:
    return {
        e.step_key
        for e in result.all_events
        if e.event_type_value in ("STEP_START", "STEP_RESTARTED")
    }


# ---------------------------------------------------------------------------------
# Running a job through its own executor, as `dagster dev`'s run worker does

# threads: the default compile (ops as threads of the run's process); multiprocess:
# `create --executor multiprocess`. execute_in_process would use neither.
# The job's executors: threads (the default), Dagster's multiprocess executor, and
# dagster-celery's executor with its tasks run eagerly where they are sent (its real
# code path: one plan per step, retries, outputs through the run's event log, each op
# watching the run as on a worker; tests/test_cluster.py runs real workers).
EXECUTORS = ["threads", "multiprocess", "celery"]
# How each way of running a job announces itself in the run's engine events.
EXECUTING = {
    "threads": "Executing steps as threads of process",
    "multiprocess": "Executing steps using multiprocess executor",
    "celery": "Submitting celery task for step",
    "in_process": "Executing steps in process",
}


def executor_options(executor: str) -> tuple[str, ...]:
    if executor in ("multiprocess", "celery"):
        return ("--executor", executor)
    return ()


def executor_run_config(executor: str) -> dict[str, Any]:
    """Run config of the executor: Celery's tasks run eagerly, where they are sent."""
    if executor != "celery":
        return {}
    eager = {"task_always_eager": True}
    config = {"broker": "memory://", "backend": "cache+memory://"}
    return {"execution": {"config": {**config, "config_source": eager}}}


# In a new process (whose environment, and so the multiprocess executor's fork server's,
# is this test's): execute the job with its own executor (`execute_job`), or with
# `execute_in_process`; print every event of the run with its timestamp as JSON.
_RUN_JOB = r"""
import json, sys
from dagster import DagsterInstance, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

def message(error):
    if error is not None and error.cause is not None:
        error = error.cause
    return "" if error is None else error.message

def main():
    defs, job_name, home, mode, config = sys.argv[1:6]
    with DagsterInstance.local_temp(home) as instance:
        job = ReconstructableJob.for_file(defs, job_name)
        if mode == "in_process":
            result = job.get_definition().execute_in_process(
                instance=instance, raise_on_error=False
            )
        else:
            with execute_job(
                job, instance=instance, run_config=json.loads(config),
                raise_on_error=False,
            ) as result:
                pass
        events = []
        for record in instance.all_logs(result.run_id):
            event = record.dagster_event
            if event is None:
                continue
            kind = event.event_type_value
            item = {"type": kind, "step": event.step_key, "time": record.timestamp,
                    "message": event.message or ""}
            if kind in ("STEP_UP_FOR_RETRY", "STEP_FAILURE", "PIPELINE_FAILURE"):
                item["error"] = message(event.event_specific_data.error)
            if kind == "STEP_OUTPUT":
                item["metadata"] = {
                    k: v.value for k, v in event.event_specific_data.metadata.items()
                }
            events.append(item)
        out = {"success": result.success, "run_id": result.run_id, "events": events}
    print("RESULT " + json.dumps(out, default=str))

if __name__ == "__main__":
    main()
"""


def run_job(flow_dir: Path, job_name: str, home: Path, mode: str) -> dict[str, Any]:
    """Run the job of `flow_dir/defs.py` in a new process (`mode`: an executor of
    EXECUTORS, or "in_process"); its success, run id and events."""
    home.mkdir(exist_ok=True)
    runner = home / "run_job.py"
    runner.write_text(_RUN_JOB)
    config = json.dumps(executor_run_config(mode))
    args = [str(runner), str(flow_dir / "defs.py"), job_name, str(home), mode, config]
    proc = run_cli(args, cwd=flow_dir)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-4000:]
    run = dict(json.loads(lines[-1][len("RESULT ") :]))
    engine = [e["message"] for e in run["events"] if e["type"] == "ENGINE_EVENT"]
    assert any(m.startswith(EXECUTING[mode]) for m in engine), engine
    return run


def assert_success(run: dict[str, Any]) -> None:
    failed = {
        e["step"]: e.get("error") or e["message"]
        for e in run["events"]
        if e["type"] in ("STEP_FAILURE", "PIPELINE_FAILURE")
    }
    assert run["success"], failed


def events_of(run: dict[str, Any], step_key: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in run["events"] if e["step"] == step_key and e["type"] == kind]


def attempt_failures(run: dict[str, Any], step_key: str) -> list[str]:
    """Messages of an op's failed attempts (retried or final), in order."""
    return [
        e["error"]
        for e in run["events"]
        if e["step"] == step_key and e["type"] in ("STEP_UP_FOR_RETRY", "STEP_FAILURE")
    ]


def assert_retried(run: dict[str, Any], step_key: str, times: int) -> None:
    """Dagster retried the op `times` times, and its last attempt succeeded."""
    assert len(events_of(run, step_key, "STEP_UP_FOR_RETRY")) == times, step_key
    assert len(events_of(run, step_key, "STEP_RESTARTED")) == times, step_key
    assert events_of(run, step_key, "STEP_FAILURE") == [], step_key
    assert len(events_of(run, step_key, "STEP_SUCCESS")) == 1, step_key


def task_metadata(run: dict[str, Any], step_key: str) -> dict[str, Any]:
    """The op's output metadata that describes its Metaflow task."""
    [meta] = [
        e["metadata"]
        for e in events_of(run, step_key, "STEP_OUTPUT")
        if "metaflow pathspec" in e["metadata"]
    ]
    return meta


def job_pathspec(run: dict[str, Any], step_key: str = "op_start") -> str:
    """The Metaflow run pathspec (Flow/run), from an op's output metadata."""
    return str(task_metadata(run, step_key)["metaflow pathspec"]).rsplit("/", 2)[0]


# Runs an op's "retrieve" snippet as a user would (default namespace), then lists the
# user artifacts of each attempt of the task with the Metaflow client.
_CHECK_SNIPPET = r"""
import json, sys
from metaflow import Task, namespace
snippet, pathspec, attempts = sys.argv[1], sys.argv[2], int(sys.argv[3])
scope = {}
exec(snippet, scope)
def names(task):
    return sorted(a.id for a in task if not a.id.startswith("_") and a.id != "name")
task = scope["task"]
out = {"pathspec": task.pathspec, "attempt": task.current_attempt,
       "data": {n: task[n].data for n in names(task)}}
namespace(None)
out["attempts"] = [names(Task(pathspec, attempt=a)) for a in range(attempts)]
print(json.dumps(out))
"""


def check_snippet(folder: Path, meta: dict[str, Any], attempts: int) -> dict[str, Any]:
    match = re.fullmatch(r"```python\n(.*)```", str(meta["retrieve"]), re.DOTALL)
    assert match, meta["retrieve"]
    args = ["-c", _CHECK_SNIPPET, match[1], str(meta["metaflow pathspec"])]
    proc = run_cli([*args, str(attempts)], cwd=folder)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------------------------
# @retry and @catch


@pytest.mark.parametrize("mode", [*EXECUTORS, "in_process"])
def test_retry_count_is_the_true_attempt_and_foreach_reads_the_good_one(
    mode: str, flow_dir: Path, tmp_path: Path
) -> None:
    """Under each executor (and execute_in_process, which the README documents)."""
    _, module = compile_flow("retry_count_flow.py", flow_dir, *executor_options(mode))
    op_start = module.RetryCountFlow.graph.node_named("op_start").definition
    assert op_start.retry_policy.max_retries == 3
    assert op_start.retry_policy.delay is None or op_start.retry_policy.delay == 0
    result = run_job(flow_dir, "RetryCountFlow", tmp_path / "home", mode)
    assert_success(result)
    assert_retried(result, "op_start", 2)
    assert_retried(result, "op_fan", 1)
    first, second = attempt_failures(result, "op_start")
    assert "attempt 0 fails on purpose" in first
    assert "attempt 1 fails on purpose" in second
    [fan_failure] = attempt_failures(result, "op_fan")
    assert "fails after choosing five splits" in fan_failure
    pathspec = job_pathspec(result)
    run = read_run(flow_dir, pathspec)
    assert run["successful"]
    start = task(run, "start")
    assert start["attempt"] == 2
    assert start["artifacts"]["seen_retry_count"] == 2
    fan = task(run, "fan")
    assert fan["attempt"] == 1
    # Attempt 0 chose five splits before failing; the job ran the two of attempt 1.
    assert sorted(t["artifacts"]["item"] for t in run["steps"]["body"]) == ["a", "b"]
    assert task(run, "join")["artifacts"]["items_seen"] == ["a", "b"]

    # The ops' metadata describes the attempts that succeeded, not the failed ones
    # (which stored an artifact `doomed` the good attempts do not have).
    meta = task_metadata(result, "op_start")
    assert meta["metaflow pathspec"] == f"{pathspec}/start/{start['id']}"
    assert meta["attempt"] == 2
    assert meta["artifacts"] == ["seen_retry_count"]
    assert f"Task({meta['metaflow pathspec']!r}, attempt=2)" in meta["retrieve"]
    fan_meta = task_metadata(result, "op_fan")
    assert fan_meta["metaflow pathspec"] == f"{pathspec}/fan/{fan['id']}"
    assert fan_meta["attempt"] == 1
    # (`seen_retry_count` comes from start; attempt 0 also stored `doomed`.)
    assert fan_meta["artifacts"] == ["items", "seen_retry_count"]
    # The snippet, run as a user would, reads the good attempt.
    seen = check_snippet(flow_dir, meta, attempts=3)
    assert seen["pathspec"] == meta["metaflow pathspec"]
    assert seen["attempt"] == 2
    assert seen["data"] == {"seen_retry_count": 2}
    assert seen["attempts"] == [["doomed"], ["doomed"], ["seen_retry_count"]]


def test_retry_delay_comes_from_minutes_between_retries(flow_dir: Path) -> None:
    _, module = compile_flow("late_retry_flow.py", flow_dir)
    policy = module.LateRetryFlow.graph.node_named("op_start").definition.retry_policy
    # @retry(times=1, minutes_between_retries=0.2): 12 seconds, not 12.000000000000002.
    assert policy.max_retries == 1
    assert policy.delay == 12
    assert re.search(r"delay=12[,)]", (flow_dir / "defs.py").read_text())


@pytest.mark.parametrize("executor", EXECUTORS)
def test_retry_waits_minutes_between_retries_in_a_real_run(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """@retry(times=2, minutes_between_retries=0.05): each restart begins at least
    3 seconds after the failure before it, by the run's own event timestamps."""
    _, module = compile_flow(
        "retry_delay_flow.py", flow_dir, *executor_options(executor)
    )
    policy = module.RetryDelayFlow.graph.node_named("op_start").definition.retry_policy
    assert policy.max_retries == 2
    assert policy.delay == 3
    result = run_job(flow_dir, "RetryDelayFlow", tmp_path / "home", executor)
    assert_success(result)
    assert_retried(result, "op_start", 2)
    failed = [e["time"] for e in events_of(result, "op_start", "STEP_UP_FOR_RETRY")]
    restarted = [e["time"] for e in events_of(result, "op_start", "STEP_RESTARTED")]
    for failure, restart in zip(failed, restarted, strict=True):
        assert restart - failure >= 3, (failed, restarted)
    run = read_run(flow_dir, job_pathspec(result))
    assert run["successful"]
    assert task(run, "start")["attempt"] == 2
    assert task(run, "start")["artifacts"]["attempt"] == 2


@pytest.mark.parametrize("executor", EXECUTORS)
def test_catch_alone_after_retries_and_after_a_kill(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    _, module = compile_flow(
        "catch_retry_flow.py", flow_dir, *executor_options(executor)
    )
    graph = module.CatchRetryFlow.graph
    # @catch adds three error retries to the user's: Dagster may retry that often.
    assert graph.node_named("op_caught").definition.retry_policy.max_retries == 3
    assert graph.node_named("op_retried").definition.retry_policy.max_retries == 5
    result = run_job(flow_dir, "CatchRetryFlow", tmp_path / "home", executor)
    assert_success(result)
    run = read_run(flow_dir, job_pathspec(result))
    assert run["successful"]
    # @catch alone: the user code's only attempt fails and is caught at once.
    assert_retried(result, "op_caught", 0)
    assert task(run, "caught")["attempt"] == 0
    caught = task(run, "caught")["artifacts"]["caught_problem"]
    assert "caught without retries" in caught
    # After @retry: attempts 0 and 1 fail and are retried, attempt 2 is caught.
    assert_retried(result, "op_retried", 2)
    assert task(run, "retried")["attempt"] == 2
    assert "fails on attempt 2" in task(run, "retried")["artifacts"]["retried_problem"]
    # The op killed the hung attempt 0; attempt 1 ran @catch's fallback.
    assert_retried(result, "op_killed", 1)
    assert task(run, "killed")["attempt"] == 1
    [killed] = attempt_failures(result, "op_killed")
    assert "timed out after 1 seconds" in killed
    problems = task(run, "join")["artifacts"]["problems"]
    assert problems == {
        "caught": {"type": "builtins.ValueError", "message": "caught without retries"},
        "retried": {"type": "builtins.ValueError", "message": "fails on attempt 2"},
        # Metaflow's own record of a task that never ran to the end of user code.
        "killed": {
            "type": "metaflow.plugins.catch_decorator.FailureHandledByCatch",
            "message": "Task execution kept failing over 1 attempts. Your code did "
            "not raise an exception. Something in the execution environment caused "
            "the failure.",
        },
    }


# ---------------------------------------------------------------------------------
# @timeout: enforced by the op, on the step's whole process group


def _processes() -> dict[int, tuple[int, bytes, bytes]]:
    """pid -> (process group, command line, environment), from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        # Fields after the command name, which sits in parentheses: state ppid pgrp.
        pgrp = int(stat.rsplit(b")", 1)[1].split()[2])
        found[int(entry)] = (pgrp, cmdline, environ)
    return found


def _survivors(groups: set[int], marker: str) -> list[tuple[int, bytes]]:
    """Live processes of the killed steps' groups or carrying the test's marker."""
    me = os.getpid()
    return [
        (pid, cmdline)
        for pid, (pgrp, cmdline, environ) in _processes().items()
        if pid != me
        and (pgrp in groups or marker.encode() in environ)
        and not is_launcher(cmdline)
        and not is_gone(pid)
    ]


HUNG = ("sleeper", "spinner", "native")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_timeout_kills_steps_that_block_signals_then_retry_succeeds(
    executor: str, flow_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four steps time out at once: one ignores signals and sleeps, one ignores them
    and spins, one blocks in C holding the GIL (no Python signal handler can run),
    one lets Metaflow's own @timeout stop it. Each retry succeeds."""
    _, module = compile_flow("timeout_flow.py", flow_dir, *executor_options(executor))
    steps = module.FLOW.steps
    assert all(steps[s].timeout == 2 for s in (*HUNG, "polite"))
    assert steps["start"].timeout is None
    tags = module.TimeoutFlow.graph.node_named("op_sleeper").definition.tags
    assert tags["metaflow/timeout"] == "2"
    marker = uuid.uuid4().hex
    pids = flow_dir / "pids.txt"
    monkeypatch.setenv("MFD_TEST_MARKER", marker)
    monkeypatch.setenv("MFD_TEST_PIDS", str(pids))
    began = time.monotonic()
    result = run_job(flow_dir, "TimeoutFlow", tmp_path / "home", executor)
    elapsed = time.monotonic() - began
    assert_success(result)
    # Three hung steps (2 s + 5 s head start + 5 s SIGTERM grace each, at once) and
    # their retries; well short of the 300 seconds (or for ever) they would hang.
    assert elapsed < 240
    # Each hung step survived Metaflow's SIGALRM and the op's SIGTERM: the op killed
    # its group with SIGKILL no earlier than @timeout + head start + grace.
    least = 2 + module.TIMEOUT_GRACE_SECONDS + module.KILL_GRACE_SECONDS
    for step in HUNG:
        assert_retried(result, f"op_{step}", 1)
        [message] = attempt_failures(result, f"op_{step}")
        assert f"Step '{step}' timed out after 2 seconds (@timeout)" in message
        assert "the op killed its process group" in message
        [start] = events_of(result, f"op_{step}", "STEP_START")
        [failed] = events_of(result, f"op_{step}", "STEP_UP_FOR_RETRY")
        assert failed["time"] - start["time"] >= least, step
    # The native hang's SIGTERM handler (which would have ended the task) never ran.
    assert not Path(f"{pids}.handled").exists()
    # The hung steps were timed out concurrently, not one after the other. (Eager
    # Celery runs each task where it is sent, one at a time: its concurrency is its
    # workers', not the job's.)
    starts = [events_of(result, f"op_{s}", "STEP_START")[0]["time"] for s in HUNG]
    fails = [events_of(result, f"op_{s}", "STEP_UP_FOR_RETRY")[0]["time"] for s in HUNG]
    if executor != "celery":
        assert max(starts) < min(fails)
    # Metaflow's own SIGALRM stopped the polite step before the op had to.
    assert_retried(result, "op_polite", 1)
    [polite] = attempt_failures(result, "op_polite")
    assert "the op killed" not in polite
    run = read_run(flow_dir, job_pathspec(result))
    assert run["successful"]
    for step in (*HUNG, "polite"):
        assert task(run, step)["attempt"] == 1
    assert task(run, "join")["artifacts"]["attempts"] == [1, 1, 1, 1]
    # No process of the killed steps survives: not the step, not its `sleep 300`.
    # (The run's process has exited; give its helpers, such as the multiprocess
    # executor's fork server, a moment to follow.)
    lines = pids.read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(HUNG)
    groups = {int(line.split()[2]) for line in lines}
    assert len(groups) == 3
    deadline = time.monotonic() + 30
    while _survivors(groups, marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _survivors(groups, marker) == []


def test_timeout_from_with_option_fails_the_run_clearly(flow_dir: Path) -> None:
    flow = copy_flow("hang_flow.py", flow_dir)
    create(flow, "defs.py", "--with", "timeout:seconds=3")
    module = load_module(flow_dir / "defs.py")
    assert {s.timeout for s in module.FLOW.steps.values()} == {3}
    began = time.monotonic()
    result = module.HangFlow.execute_in_process(raise_on_error=False)
    assert time.monotonic() - began < 120
    assert not result.success
    [message] = failures(result, "op_hang")
    assert "Step 'hang' timed out after 3 seconds (@timeout)" in message
    assert "op_end" not in started(result)


# ---------------------------------------------------------------------------------
# @environment and @resources


def test_environment_values_reach_the_step_like_a_native_run(flow_dir: Path) -> None:
    flow, module = compile_flow("environment_flow.py", flow_dir)
    result = module.EnvironmentFlow.execute_in_process()
    assert result.success
    ours = read_run(flow_dir, run_pathspec(result))
    native = read_run(flow_dir, native_pathspec("EnvironmentFlow", flow))
    seen = task(ours, "start")["artifacts"]["seen"]
    assert seen == task(native, "start")["artifacts"]["seen"]
    assert seen == {
        "MFD_QUOTES": "say \"hi\" and 'bye'",
        "MFD_SPACES": "  two  spaces  and a tab\t",
        "MFD_UNICODE": "héllo wörld ✓ 日本語",
        "MFD_EQUALS": "a=b==c=",
        "MFD_NUMBER": "42",
        "MFD_FLAG": "True",
        "MFD_EMPTY": "",
    }
    assert task(ours, "end")["artifacts"]["leaked"] == {}
    assert task(native, "end")["artifacts"]["leaked"] == {}


def test_resources_show_as_op_tags(flow_dir: Path) -> None:
    _, module = compile_flow("environment_flow.py", flow_dir)
    graph = module.EnvironmentFlow.graph
    tags = graph.node_named("op_start").definition.tags
    assert tags["metaflow/resources.cpu"] == "2"
    assert tags["metaflow/resources.memory"] == "2048"
    assert tags["metaflow/resources.gpu"] == "1"
    end_tags = graph.node_named("op_end").definition.tags
    assert not any(k.startswith("metaflow/") for k in end_tags)


def test_resources_from_with_option_tag_every_op(flow_dir: Path) -> None:
    flow = copy_flow("linear_flow.py", flow_dir)
    create(flow, "defs.py", "--with", "resources:cpu=4,memory=8000")
    module = load_module(flow_dir / "defs.py")
    for node in module.LinearFlow.graph.nodes:
        tags = node.definition.tags
        assert tags["metaflow/resources.cpu"] == "4", node.name
        assert tags["metaflow/resources.memory"] == "8000", node.name


# ---------------------------------------------------------------------------------
# --workflow-timeout


def test_workflow_timeout_stops_a_running_step(flow_dir: Path) -> None:
    _, module = compile_flow("slow_flow.py", flow_dir, "--workflow-timeout", "10")
    job = module.SlowFlow
    assert job.tags["dagster/max_runtime"] == "10"
    assert module.FLOW.workflow_timeout == 10
    began = time.monotonic()
    result = job.execute_in_process(raise_on_error=False)
    assert time.monotonic() - began < 90
    assert not result.success
    [message] = failures(result, "op_slow")
    assert "reached its workflow timeout of 10 seconds" in message
    assert "stopped step 'slow'" in message
    assert "op_end" not in started(result)


def test_workflow_timeout_refuses_to_start_a_task_past_the_deadline(
    flow_dir: Path,
) -> None:
    _, module = compile_flow("late_retry_flow.py", flow_dir, "--workflow-timeout", "8")
    result = module.LateRetryFlow.execute_in_process(raise_on_error=False)
    assert not result.success
    first, second = failures(result, "op_start")
    assert "first attempt fails" in first
    # The retry was due 12 seconds later, past the 8-second deadline: not started.
    assert "reached its workflow timeout of 8 seconds" in second
    assert "not starting step 'start'" in second


@pytest.mark.parametrize("executor", EXECUTORS)
def test_workflow_timeout_across_processes(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """Run by the job's own executor (ops as threads of the run's process, or as
    processes of the multiprocess executor), every op reads the run's start time
    alike."""
    from dagster import DagsterInstance, execute_job
    from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

    options = ("--workflow-timeout", "40", *executor_options(executor))
    compile_flow("slow_flow.py", flow_dir, *options)
    home = tmp_path / "dagster_home"
    home.mkdir()
    began = time.monotonic()
    with DagsterInstance.local_temp(str(home)) as instance:
        job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "SlowFlow")
        with execute_job(
            job,
            instance=instance,
            run_config=executor_run_config(executor),
            raise_on_error=False,
        ) as result:
            assert not result.success
            messages = failures(result, "op_slow")
            ran = started(result)
            record = instance.get_run_record_by_id(result.run_id)
            assert record is not None
            run_start, run_end = record.start_time, record.end_time
    assert time.monotonic() - began < 150
    [message] = messages
    assert "reached its workflow timeout of 40 seconds" in message
    assert "op_end" not in ran
    # Stopped at the deadline (plus the time to kill and report), not 300 s later.
    assert run_end - run_start < 40 + 30


# ---------------------------------------------------------------------------------
# @project with --branch / --production


def _project_facts(run: dict[str, Any]) -> dict[str, Any]:
    start, end = task(run, "start"), task(run, "end")
    assert start["artifacts"]["seen"] == end["artifacts"]["seen_at_end"]
    return start["artifacts"]["seen"]


def test_project_branches_live_side_by_side(flow_dir: Path) -> None:
    flow = copy_flow("project_flow.py", flow_dir)
    create(flow, "a.py", top=("--branch", "a"))
    create(flow, "b.py", top=("--branch", "b"))
    a, b = load_module(flow_dir / "a.py"), load_module(flow_dir / "b.py")
    # The module attribute stays the flow class name; the job name carries the branch.
    assert a.ProjectFlow.name == "mfd_proj_test_a_ProjectFlow"
    assert b.ProjectFlow.name == "mfd_proj_test_b_ProjectFlow"
    assert a.ProjectFlow.tags["metaflow/branch"] == "test.a"
    merged = Definitions.merge(a.defs, b.defs)
    for branch in ("a", "b"):
        result = merged.get_job_def(
            f"mfd_proj_test_{branch}_ProjectFlow"
        ).execute_in_process()
        assert result.success
        ours = read_run(flow_dir, run_pathspec(result))
        native_run = native_pathspec("ProjectFlow", flow, "--branch", branch)
        native = read_run(flow_dir, native_run)
        assert _project_facts(ours) == _project_facts(native)
        assert _project_facts(ours)["branch_name"] == f"test.{branch}"
        assert f"project_branch:test.{branch}" in ours["tags"]


def test_project_production_and_user_branches(flow_dir: Path) -> None:
    flow = copy_flow("project_flow.py", flow_dir)
    create(flow, "prod.py", top=("--production",))
    create(flow, "user.py", env={"METAFLOW_USER": "creator"})
    prod, user = load_module(flow_dir / "prod.py"), load_module(flow_dir / "user.py")
    assert prod.ProjectFlow.name == "mfd_proj_prod_ProjectFlow"
    assert user.ProjectFlow.name == "mfd_proj_user_creator_ProjectFlow"
    result = prod.ProjectFlow.execute_in_process()
    ours = read_run(flow_dir, run_pathspec(result))
    native = read_run(flow_dir, native_pathspec("ProjectFlow", flow, "--production"))
    assert _project_facts(ours) == _project_facts(native)
    assert _project_facts(ours)["is_production"] is True
    # The user branch is whoever ran `create`, not whoever runs the Dagster worker.
    assert os.environ["METAFLOW_USER"] != "creator"
    result = user.ProjectFlow.execute_in_process()
    facts = _project_facts(read_run(flow_dir, run_pathspec(result)))
    assert facts["branch_name"] == "user.creator"
    assert facts["is_user_branch"] is True
    assert facts["project_flow_name"] == "mfd_proj.user.creator.ProjectFlow"


# ---------------------------------------------------------------------------------
# Config values


def test_configs_reach_every_step_like_a_native_run(flow_dir: Path) -> None:
    flow = copy_flow("config_flow.py", flow_dir)
    (flow_dir / "extra_default.json").write_text('{"path": "default", "n": 1}')
    other = '{"path": "other", "n": 2.0, "deep": {"x": [1]}}'
    (flow_dir / "other.json").write_text(other)
    top = (
        "--config-value",
        "settings",
        json.dumps({"lr": 1.0, "name": 'ünï cödé = "q"'}),
        "--config",
        "extra",
        "other.json",
    )
    create(flow, "defs.py", top=top)
    # The file is read at create time, like a deployment: later edits do not matter.
    (flow_dir / "other.json").write_text('{"path": "changed"}')
    module = load_module(flow_dir / "defs.py")
    result = module.ConfigFlow.execute_in_process()
    assert result.success
    ours = read_run(flow_dir, run_pathspec(result))
    (flow_dir / "other.json").write_text(other)
    native = read_run(flow_dir, native_pathspec("ConfigFlow", flow, *top))
    for run in (ours, native):
        start, end = task(run, "start"), task(run, "end")
        assert start["artifacts"]["seen"] == end["artifacts"]["seen_at_end"]
    seen = task(ours, "start")["artifacts"]["seen"]
    assert seen == task(native, "start")["artifacts"]["seen"]
    assert seen == {
        "settings": {"lr": 1.0, "name": 'ünï cödé = "q"'},
        "lr_type": "float",
        "extra": {"path": "other", "n": 2.0, "deep": {"x": [1]}},
        "note": "plain text; not JSON",
    }
    assert task(ours, "start")["artifacts"]["from_env"] == 'ünï cödé = "q"'


def test_config_defaults_reach_the_steps(flow_dir: Path) -> None:
    flow = copy_flow("config_flow.py", flow_dir)
    (flow_dir / "extra_default.json").write_text('{"path": "default", "n": 1}')
    create(flow, "defs.py")
    module = load_module(flow_dir / "defs.py")
    result = module.ConfigFlow.execute_in_process()
    assert result.success
    run = read_run(flow_dir, run_pathspec(result))
    seen = task(run, "end")["artifacts"]["seen_at_end"]
    assert seen["settings"] == {"lr": 0.5, "name": "default"}
    assert seen["extra"] == {"path": "default", "n": 1}
