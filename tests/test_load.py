"""Load: many runs of one job launched at once through a real `dagster dev` whose
instance stores runs and events in PostgreSQL (scripts/postgres.sh).

Every run must succeed with a Metaflow run of its own, and no task may read another
run's artifacts: each run gets a distinct parameter value, every task checks it sees
its own run id and value, and the end step's artifact must equal its own value.

CI runs 6 runs; the full check is 20:

    LOAD_RUNS=20 .venv/bin/pytest tests/test_load.py -q
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import FLOWS, create, free_port, run_cli
from services import (
    LAUNCH,
    STATUSES,
    GraphQL,
    postgres_database,
    stop_group,
    tail,
    wait_for_location,
)

RUNS = int(os.environ.get("LOAD_RUNS", "6"))
JOB = "FaultLoadFlow"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    with postgres_database("load") as url:
        yield url


DagsterDev = tuple[GraphQL, Path, Path, Path, "subprocess.Popen[bytes]"]


@pytest.fixture
def dagster_dev(tmp_path: Path, database: str) -> Iterator[DagsterDev]:
    """(graphql, flow folder, datastore root, log, process) of a `dagster dev`."""
    folder = tmp_path / "flows"
    folder.mkdir()
    flow = folder / "load_flow.py"
    shutil.copy(FLOWS / "faults" / "load_flow.py", flow)
    # Metaflow's client finds a local datastore as `<sysroot>/.metaflow`.
    root = folder / "datastore" / ".metaflow"
    root.mkdir(parents=True)
    create(flow, "defs.py", top=("--datastore=local", f"--datastore-root={root}"))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        json.dumps(  # JSON is YAML
            {
                "storage": {"postgres": {"postgres_url": database}},
                "run_queue": {"max_concurrent_runs": RUNS},
                "telemetry": {"enabled": False},
            }
        )
    )
    port = free_port()
    log = tmp_path / "dagster_dev.log"
    dagster = str(Path(sys.executable).parent / "dagster")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [dagster, "dev", "-f", "defs.py", "-h", "127.0.0.1", "-p", str(port)],
            cwd=folder,
            env={**os.environ, "DAGSTER_HOME": str(home)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield GraphQL(port), folder, root, log, proc
    finally:
        # dagster dev and everything it started share its session's process group.
        stop_group(proc)


_READ_RUNS = r"""
import json, sys
from metaflow import Run, namespace
namespace(None)
out = {}
for pathspec in sys.argv[1:]:
    run = Run(pathspec)
    tasks = {s.id: [(t.id, t.successful) for t in s] for s in run}
    end = run["end"].task
    join = run["join"].task
    bodies = [t["part"].data for t in run["body"]]
    out[pathspec] = {
        "id": run.id, "successful": run.successful, "tasks": tasks,
        "final": end["final"].data, "run_seen": end["run_seen"].data,
        "parts": join["parts_seen"].data, "bodies": sorted(bodies),
        "token": run["start"].task["token"].data,
    }
print(json.dumps(out))
"""


@pytest.mark.timeout(600 + 90 * RUNS)
def test_concurrent_runs_through_dagster_dev_on_postgres(
    dagster_dev: DagsterDev,
) -> None:
    graphql, folder, root, log, proc = dagster_dev
    location = wait_for_location(graphql, log, proc)
    tokens = [f"token-{i}-{uuid.uuid4().hex[:6]}" for i in range(RUNS)]

    def launch(token: str) -> str:
        params = {
            "selector": {
                "repositoryLocationName": location,
                "repositoryName": "__repository__",
                "jobName": JOB,
            },
            "runConfigData": {"ops": {"op_start": {"config": {"token": token}}}},
        }
        reply = graphql(LAUNCH, {"params": params})["launchRun"]
        assert reply["__typename"] == "LaunchRunSuccess", reply
        return str(reply["run"]["runId"])

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        run_ids = list(pool.map(launch, tokens))
    assert len(set(run_ids)) == RUNS

    deadline = time.monotonic() + 300 + 60 * RUNS
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        reply = graphql(STATUSES, {"ids": run_ids})["runsOrError"]
        statuses = {r["runId"]: r["status"] for r in reply["results"]}
        if len(statuses) == RUNS and set(statuses.values()) <= TERMINAL:
            break
        time.sleep(2)
    elapsed = time.monotonic() - started
    print(f"{RUNS} concurrent runs finished in {elapsed:.0f} s")
    assert all(s == "SUCCESS" for s in statuses.values()), (statuses, tail(log))
    assert len(statuses) == RUNS

    pathspecs = [f"{JOB}/dagster-{run_id}" for run_id in run_ids]
    proc = run_cli(
        ["-c", _READ_RUNS, *pathspecs],
        cwd=folder,
        env={"METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root.parent)},
    )
    runs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len({r["id"] for r in runs.values()}) == RUNS
    for pathspec, token in zip(pathspecs, tokens, strict=True):
        run = runs[pathspec]
        assert run["successful"] is True, run
        assert run["token"] == token
        assert run["final"] == token
        assert run["run_seen"] == pathspec.split("/")[1]
        assert run["parts"] == [f"{token}/0", f"{token}/1"]
        assert run["bodies"] == [f"{token}/0", f"{token}/1"]
        counts = {step: len(tasks) for step, tasks in run["tasks"].items()}
        assert counts == {"start": 1, "body": 2, "join": 1, "end": 1}, counts
        assert all(ok for tasks in run["tasks"].values() for _, ok in tasks), run
    # Exactly these runs of the flow exist in this datastore: none merged or doubled.
    flow_dirs = (root / JOB).iterdir()
    on_disk = sorted(p.name for p in flow_dirs if p.name not in ("_meta", "data"))
    assert on_disk == sorted(p.split("/")[1] for p in pathspecs)
