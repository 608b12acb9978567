"""Runs beyond one machine: whole runs on Celery run-launcher workers, and ops on Celery
workers, none of them sharing a disk (issue #14).

The deployment (tests/cluster.py) is the one README's "Running on more than one
machine" describes, with real services on loopback ports and two `dagster-celery`
workers in mount and PID namespaces of their own. Runs are launched as the UI does
(GraphQL `launchRun`), from the unchanged generated file or one made with
`--executor celery`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import (
    CELERY_RUN_CONFIG,
    DEPLOYMENT,
    TERMINAL,
    Cluster,
    kill_worker,
    running_cluster,
)
from conftest import (
    FLOWS,
    REPO,
    comparable,
    is_gone,
    native_run,
    read_flow_name,
    read_run,
)


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The deployment, serving `cluster_flow.py` (or the flow of the test's
    `cluster_flow` mark) compiled with the `create` options of the test's
    `create_options` mark (none: the default, thread executor)."""
    mark = request.node.get_closest_marker("create_options")
    options: tuple[str, ...] = tuple(mark.args) if mark else ()
    flow = request.node.get_closest_marker("cluster_flow")
    name = flow.args[0] if flow else "cluster_flow.py"
    with running_cluster(tmp_path, FLOWS / name, options) as cluster:
        yield cluster


def test_whole_run_on_a_worker_matches_native(cluster: Cluster) -> None:
    flow = cluster.code / "cluster_flow.py"
    run_id = cluster.launch(read_flow_name(flow))
    assert cluster.wait(run_id) == "SUCCESS", cluster.logs()
    ours = read_run(cluster.code, f"ClusterFlow/dagster-{run_id}", env=cluster.env)
    expected = read_run(
        cluster.code, native_run_with(flow, cluster.env), env=cluster.env
    )
    assert comparable(ours) == comparable(expected)


def native_run_with(flow: Path, env: dict[str, str], *args: str) -> str:
    """A native run (`python flow.py run`) on the cluster's datastore."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return native_run(flow, *args)
    finally:
        os.environ.clear()
        os.environ.update(saved)


TERMINATE = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) { __typename ... on PythonError { message } }
}
"""


def held(run_id: str) -> dict[int, int]:
    """The run's held body tasks, on any worker, as {child pid: task pid} in this test's
    PID namespace (the workers' namespaces are children of it, so it sees theirs): the
    child is the process a held task waits for, whose command line names the run."""
    found = {}
    marker = f"cluster-hold-dagster-{run_id}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if marker in cmdline.split(b"\0") and "State:\tZ" not in status:
            found[int(entry.name)] = parent_of(int(entry.name))
    return found


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("PPid:"))
    return int(line.split()[1])


def alive(pids: set[int]) -> set[int]:
    """The pids of `pids` that still run (gone or zombie: not alive)."""
    return {pid for pid in pids if not is_gone(pid)}


def wait_for_tasks(cluster: Cluster, run_id: str, within: float = 180) -> set[int]:
    """The pids of the held tasks and their children, once one is running."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pids = held(run_id)
        if pids:
            return set(pids) | set(pids.values())
        assert cluster.status(run_id) not in TERMINAL, cluster.logs()
        time.sleep(0.5)
    raise AssertionError(f"no task of run {run_id} started:\n{cluster.logs()}")


def test_cancel_kills_the_tasks_on_the_worker(cluster: Cluster) -> None:
    run_id = cluster.launch("ClusterFlow", HOLD)
    tree = wait_for_tasks(cluster, run_id)
    reply = cluster.graphql(TERMINATE, {"runId": run_id})["terminateRun"]
    assert reply["__typename"] == "TerminateRunSuccess", reply
    deadline = time.monotonic() + 10
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive(tree) == set(), cluster.logs()
    assert cluster.wait(run_id, within=120) == "CANCELED", cluster.logs()


HOLD = {"ops": {"op_start": {"config": {"hold": 120}}}}


REEXECUTE = """
mutation Reexecute($params: ReexecutionParams!) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""


def run_process(pid: int) -> int:
    """The Celery pool process a task's process descends from: the run's own process
    (a fork of the worker, so its command line is the worker's)."""
    while pid > 1:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"celery" in cmdline and b"worker" in cmdline:
            return pid
        pid = parent_of(pid)
    raise AssertionError("no Celery worker among the task's ancestors")


def test_lost_run_process_fails_and_reexecution_finishes_on_the_other_worker(
    cluster: Cluster,
) -> None:
    hold = {"ops": {"op_start": {"config": {"hold": 15}}}}
    run_id = cluster.launch("ClusterFlow", hold)
    tree = wait_for_tasks(cluster, run_id)
    child = min(held(run_id))
    runner = run_process(child)
    lost = next(w for w in cluster.workers if w.home.name in worker_of(runner))
    # The run's process dies as under the OOM killer: no handler runs.
    os.kill(runner, signal.SIGKILL)
    assert cluster.wait(run_id, within=120) == "FAILURE", cluster.logs()
    # Nothing of the lost run keeps running on the worker.
    deadline = time.monotonic() + 10
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive(tree) == set(), cluster.logs()
    # The worker goes away too: re-execution can only run on the other one.
    kill_worker(lost)
    reply = cluster.graphql(
        REEXECUTE, {"params": {"parentRunId": run_id, "strategy": "FROM_FAILURE"}}
    )["launchRunReexecution"]
    assert reply["__typename"] == "LaunchRunSuccess", reply
    again = str(reply["run"]["runId"])
    assert cluster.wait(again) == "SUCCESS", cluster.logs()
    flow = cluster.code / "cluster_flow.py"
    ours = read_run(cluster.code, f"ClusterFlow/dagster-{run_id}", env=cluster.env)
    native = native_run_with(flow, cluster.env, "--hold", "15")
    expected = read_run(cluster.code, native, env=cluster.env)
    assert comparable(ours) == comparable(expected)


def worker_of(pid: int) -> str:
    """The worker directory a process runs in (its working directory)."""
    return os.readlink(f"/proc/{pid}/cwd")


def test_readme_shows_the_deployment_the_tests_use() -> None:
    readme = (REPO / "README.md").read_text()
    for name in ("dagster.yaml", "dagster-celery-executor.yaml", "celery.yaml"):
        text = (DEPLOYMENT / name).read_text()
        assert f"```yaml\n{text}```" in readme, f"README must show docs/cluster/{name}"


@pytest.mark.create_options("--executor", "celery")
def test_ops_on_celery_workers_match_native(cluster: Cluster) -> None:
    flow = cluster.code / "cluster_flow.py"
    run_id = cluster.launch("ClusterFlow", CELERY_RUN_CONFIG)
    assert cluster.wait(run_id) == "SUCCESS", cluster.logs()
    ours = read_run(cluster.code, f"ClusterFlow/dagster-{run_id}", env=cluster.env)
    expected = read_run(
        cluster.code, native_run_with(flow, cluster.env), env=cluster.env
    )
    assert comparable(ours) == comparable(expected)
    # Every op ran as a Celery task, on one worker or the other.
    logs = "".join(w.log.read_text(errors="replace") for w in cluster.workers)
    assert logs.count("Task execute_plan[") >= 10, cluster.logs()


@pytest.mark.create_options("--executor", "celery")
@pytest.mark.cluster_flow("cluster_retry_flow.py")
def test_retries_and_timeouts_of_celery_ops_match_native(cluster: Cluster) -> None:
    """A failed attempt is retried as a new Celery task, maybe on the other worker, as
    its next Metaflow attempt; Metaflow's @timeout stops a hung one likewise."""
    flow = cluster.code / "cluster_retry_flow.py"
    run_id = cluster.launch("ClusterRetryFlow", CELERY_RUN_CONFIG)
    assert cluster.wait(run_id, within=300) == "SUCCESS", cluster.logs()
    ours = read_run(cluster.code, f"ClusterRetryFlow/dagster-{run_id}", env=cluster.env)
    native = read_run(cluster.code, native_run_with(flow, cluster.env), env=cluster.env)
    assert comparable(ours) == comparable(native)
    [join] = ours["steps"]["join"]
    assert join["artifacts"] == {"values": [10, 20], "attempts": [0, 1]}
    [slow] = ours["steps"]["slow"]
    assert (slow["attempt"], slow["artifacts"]["slow_attempt"]) == (1, 1)
    attempts = {t["attempt"] for t in ours["steps"]["body"]}
    assert attempts == {0, 1}


@pytest.mark.create_options("--executor", "celery")
def test_cancel_kills_celery_op_tasks_on_their_workers(cluster: Cluster) -> None:
    run_id = cluster.launch("ClusterFlow", CELERY_RUN_CONFIG | HOLD)
    tree = wait_for_tasks(cluster, run_id)
    reply = cluster.graphql(TERMINATE, {"runId": run_id})["terminateRun"]
    assert reply["__typename"] == "TerminateRunSuccess", reply
    deadline = time.monotonic() + 10
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive(tree) == set(), cluster.logs()
    assert cluster.wait(run_id, within=120) == "CANCELED", cluster.logs()


@pytest.mark.create_options("--lost-run-after", "20")
def test_lost_worker_machine_fails_the_run(cluster: Cluster) -> None:
    """The whole worker goes (every process of its PID namespace, the run's and the
    tasks' alike, as when a machine is lost): the Celery task stays STARTED for ever,
    so run monitoring cannot tell; the run's process stops reporting, and the job's
    lost_runs sensor, run by the coordinator's daemon, fails the run."""
    run_id = cluster.launch("ClusterFlow", HOLD)
    wait_for_tasks(cluster, run_id)
    runner = run_process(min(held(run_id)))
    lost = next(w for w in cluster.workers if w.home.name in worker_of(runner))
    kill_worker(lost)
    assert cluster.wait(run_id, within=180) == "FAILURE", cluster.logs()
    events = cluster.graphql(LOGS, {"runId": run_id})["logsForRun"]["events"]
    failures = [e["message"] for e in events if e["__typename"] == "RunFailureEvent"]
    assert any("has not reported" in m for m in failures), failures


LOGS = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename ... on EventConnection { events { __typename
      ... on MessageEvent { message } } }
  }
}
"""
