"""A deployment beyond one machine, with real services on loopback ports, for the tests
(tests/test_cluster.py) and the benchmark (bench/cluster.py).

PostgreSQL holds Dagster's run, event and schedule storage; Redis is Celery's broker and
result backend; moto's S3 server is Metaflow's datastore. The coordinator runs `dagster
dev` (webserver and daemon) with the instance configuration README shows
(docs/cluster/); `dagster-celery` workers run in mount and PID namespaces of their own
(tests/isolate.py), where the coordinator's DAGSTER_HOME, the services' data and the
other workers' directories are empty: they share the code (same absolute path) and the
services, as machines of a real cluster do. Metaflow's metadata service is not on the
package index, so the one directory Metaflow's local metadata provider writes is shared
instead, standing in for it (README says so).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import REPO, create, free_port
from services import (
    LAUNCH,
    STATUSES,
    GraphQL,
    postgres_database,
    redis_server,
    s3_server,
    stop_group,
    tail,
    wait_for_location,
)

BIN = Path(sys.executable).parent
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass
class Worker:
    name: str
    home: Path
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Cluster:
    root: Path
    code: Path
    env: dict[str, str]
    coordinator: Path
    graphql: GraphQL
    location: str
    dev: subprocess.Popen[bytes]
    dev_log: Path
    workers: list[Worker] = field(default_factory=list)

    def launch(self, job: str, run_config: dict[str, Any] | None = None) -> str:
        reply = self.graphql(
            LAUNCH,
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": self.location,
                        "repositoryName": "__repository__",
                        "jobName": job,
                    },
                    "runConfigData": run_config or {},
                }
            },
        )["launchRun"]
        assert reply["__typename"] == "LaunchRunSuccess", reply
        return str(reply["run"]["runId"])

    def status(self, run_id: str) -> str:
        runs = self.graphql(STATUSES, {"ids": [run_id]})["runsOrError"]["results"]
        return str(runs[0]["status"])

    def wait(self, run_id: str, within: float = 300) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            status = self.status(run_id)
            if status in TERMINAL:
                return status
            time.sleep(1)
        raise AssertionError(f"run {run_id} did not end:\n{self.logs()}")

    def logs(self) -> str:
        parts = [f"--- dagster dev\n{tail(self.dev_log)}"]
        parts += [f"--- {w.name}\n{tail(w.log)}" for w in self.workers]
        return "\n".join(parts)


# The instance and worker configuration README shows, used as they are: every value that
# differs between deployments comes from the environment.
DEPLOYMENT = REPO / "docs" / "cluster"


def start_worker(
    cluster: Cluster, name: str, hidden: list[Path], concurrency: int = 2
) -> Worker:
    home = cluster.root / name
    home.mkdir(exist_ok=True)  # another worker may have made it to hide it
    shutil.copy(cluster.coordinator / "dagster.yaml", home / "dagster.yaml")
    (home / "tmp").mkdir(exist_ok=True)
    log = cluster.root / f"{name}.log"
    env = {
        **cluster.env,
        "DAGSTER_HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    hide: list[str] = []
    for directory in hidden:
        hide += ["--hide", str(directory)]
    command = [
        "unshare", "--mount", "--pid", "--fork", "--propagation", "private",
        sys.executable, str(REPO / "tests" / "isolate.py"), *hide, "--",
        str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
        "-y", str(DEPLOYMENT / "celery.yaml"), "-n", name, "-q", "dagster",
        "--", "--concurrency", str(concurrency),
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(
            command,
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(name, home, proc, log)
    deadline = time.monotonic() + 120
    while "ready." not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"worker {name} exited:\n{tail(log)}"
        assert time.monotonic() < deadline, f"worker {name} not ready:\n{tail(log)}"
        time.sleep(0.5)
    return worker


def kill_worker(worker: Worker) -> None:
    """Lose the worker's machine: SIGKILL its PID namespace's first process, which takes
    every process in the namespace with it."""
    try:
        os.killpg(worker.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    worker.proc.wait()


# Whole runs on workers (CeleryRunLauncher), or runs on the coordinator and their ops
# on workers (a job made with --executor celery).
WHOLE_RUNS = "dagster.yaml"
OPS_ON_WORKERS = "dagster-celery-executor.yaml"


@contextmanager
def running_cluster(
    root: Path,
    flow: Path,
    options: tuple[str, ...] = (),
    instance: str | None = None,
    workers: int = 2,
    concurrency: int = 2,
) -> Iterator[Cluster]:
    """The deployment under `root`, serving `flow` compiled with `create` `options`,
    with `instance` (docs/cluster/; default: ops on workers for --executor celery,
    else whole runs on workers) and `workers` workers of `concurrency` slots."""
    if instance is None:
        instance = OPS_ON_WORKERS if "celery" in options else WHOLE_RUNS
    code = root / "code"
    metadata = root / "metadata"
    coordinator = root / "coordinator"
    for folder in (code, metadata, coordinator):
        folder.mkdir(parents=True)
    with (
        postgres_database("cluster") as database,
        redis_server(root / "redis") as broker,
        s3_server(root / "s3") as s3,
    ):
        env = {
            **os.environ,
            **s3,
            "METAFLOW_USER": "tester",
            # Metaflow's local metadata, shared (see the module docstring).
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(metadata),
            "DAGSTER_POSTGRES_URL": database,
            "DAGSTER_CELERY_BROKER_URL": broker,
            "DAGSTER_CELERY_BACKEND_URL": broker,
        }
        shutil.copy(DEPLOYMENT / instance, coordinator / "dagster.yaml")
        shutil.copy(flow, code / flow.name)
        create(code / flow.name, "defs.py", *options, env=env)
        names = [f"worker-{n}" for n in range(1, workers + 1)]
        with _coordinator(root, code, env, coordinator) as cluster:
            for name in names:
                others = [root / other for other in names if other != name]
                hidden = [coordinator, root / "redis", root / "s3", *others]
                cluster.workers.append(start_worker(cluster, name, hidden, concurrency))
            try:
                yield cluster
            finally:
                for worker in cluster.workers:
                    kill_worker(worker)


@contextmanager
def _coordinator(
    root: Path, code: Path, env: dict[str, str], coordinator: Path
) -> Iterator[Cluster]:
    port = free_port()
    log = root / "dagster_dev.log"
    with log.open("w") as out:
        dev = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-f", str(code / "defs.py"),
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=coordinator,
            env={**env, "DAGSTER_HOME": str(coordinator)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        graphql = GraphQL(port)
        location = wait_for_location(graphql, log, dev)
        yield Cluster(root, code, env, coordinator, graphql, location, dev, log)
    finally:
        stop_group(dev)


# Under dagster-celery's executor each op is a Celery task of its own; the run's own
# process (on a worker too, here) only orchestrates. Broker and backend come from run
# config, as dagster-celery documents, read from the environment.
CELERY_RUN_CONFIG = {
    "execution": {
        "config": {
            "broker": {"env": "DAGSTER_CELERY_BROKER_URL"},
            "backend": {"env": "DAGSTER_CELERY_BACKEND_URL"},
        }
    }
}
