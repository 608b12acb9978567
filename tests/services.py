"""Real services for the tests, each started on a free loopback port and stopped after:
PostgreSQL (one database per test, in the cluster scripts/postgres.sh runs), Redis
(Debian's redis-server, installed by scripts/redis.sh), an S3 server (moto's), and a
GraphQL client for a `dagster dev` or `dagster-webserver`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
from conftest import REPO, free_port


def postgres_url() -> str:
    """Start (or find) the throwaway cluster; its URL is the script's last line."""
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "postgres.sh"), "start"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database, dropped afterwards; its SQLAlchemy URL (psycopg2 driver:
    SQLAlchemy, Dagster's storage, would pick psycopg 3 for a bare URL)."""
    base = postgres_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + "/" + name
        yield url.replace("postgresql://", "postgresql+psycopg2://", 1)
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.close()


def _wait_until(ready: Any, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        assert proc.poll() is None, f"{what} exited"
        assert time.monotonic() < deadline, f"{what} did not start"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """Debian's redis-server on a free loopback port, no persistence; its URL."""
    server = subprocess.run(
        ["bash", str(REPO / "scripts" / "redis.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.split()[-1]
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "redis.log").open("w") as log:
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ready() -> bool:
        probe = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
        )
        return probe.stdout.strip() == "PONG"

    try:
        _wait_until(ready, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


S3_SECRET = f"secret-{uuid.uuid4().hex}"


@contextmanager
def s3_server(folder: Path) -> Iterator[dict[str, str]]:
    """moto's S3 server with one bucket; the variables that point Metaflow at it."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "moto.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def ready() -> bool:
        try:
            urllib.request.urlopen(endpoint, timeout=1).close()
            return True
        except OSError:
            return False

    try:
        _wait_until(ready, proc, "moto's S3 server")
        bucket = f"mfd-{uuid.uuid4().hex[:12]}"
        request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()
        yield {
            "AWS_ACCESS_KEY_ID": "mfd-test-key",
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "METAFLOW_S3_ENDPOINT_URL": endpoint,
            "METAFLOW_DEFAULT_DATASTORE": "s3",
            "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{bucket}/metaflow",
        }
    finally:
        _stop(proc)


class GraphQL:
    """Dagster's GraphQL API at a webserver's port (what the UI itself calls)."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            reply = json.loads(response.read())
        assert "errors" not in reply, reply
        return reply["data"]


# What the UI sends: launch a run, and read runs' statuses (and tags).
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

STATUSES = """
query Runs($ids: [String!]) {
  runsOrError(filter: {runIds: $ids}) {
    __typename ... on Runs { results { runId status tags { key value } } }
  }
}
"""


LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename
      ... on PythonError { message } } } } } }
"""


def tail(path: Path, lines: int = 80) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for_location(
    graphql: GraphQL, log: Path, proc: subprocess.Popen[bytes], within: float = 240
) -> str:
    """The name of the webserver's code location once it has loaded."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the webserver exited:\n" + tail(log)
        try:
            entries = graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, OSError, KeyError):
            time.sleep(1)
            continue
        for entry in entries:
            kind = (entry["locationOrLoadError"] or {}).get("__typename")
            if kind == "RepositoryLocation":
                return str(entry["name"])
            assert kind != "PythonError", entry
        time.sleep(1)
    raise AssertionError("the webserver never served the code location:\n" + tail(log))


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started with start_new_session and everything in its group."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
