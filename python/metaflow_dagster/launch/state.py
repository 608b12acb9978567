"""What a run is called, and the state `status`/`terminate` see it in.

The ground floor of the launch package: every other room imports down into it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

URL_ENV = "DAGSTER_URL"
DEFAULT_URL = "http://127.0.0.1:3000"
REPOSITORY_NAME = "__repository__"
RUN_ID_PREFIX = "dagster-"
FLOW_TAG = "metaflow/flow"
ROOT_RUN_ID_TAG = "dagster/root_run_id"
# Set on runs launched in a background process, so `terminate` can signal it.
LAUNCHER_TAG = "metaflow_dagster/launcher"
PID_TAG = "metaflow_dagster/pid"
HOST_TAG = "metaflow_dagster/host"
BACKGROUND = "background"

FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
# Statuses from which Dagster's own termination works (CANCELABLE_RUN_STATUSES).
CANCELABLE = ("QUEUED", "STARTED")

HTTP_TIMEOUT = 30.0
PROBE_TIMEOUT = 3.0
POLL_SECONDS = 1.0


class LaunchError(Exception):
    """Something the user can fix: the message says what and how."""


def metaflow_run_id(dagster_run_id: str) -> str:
    return RUN_ID_PREFIX + dagster_run_id


def split_run_id(run_id: str) -> tuple[str, bool]:
    """`dagster-<id>` (a Metaflow run id) or a bare Dagster run id.

    Returns the Dagster run id and whether a Metaflow run id was given: a Metaflow
    run is a Dagster run group (the root run and its re-executions share the id).
    """
    run_id = run_id.strip()
    if run_id.startswith(RUN_ID_PREFIX):
        return run_id[len(RUN_ID_PREFIX) :], True
    if "/" in run_id:  # a pathspec: Flow/dagster-<id>
        return split_run_id(run_id.rsplit("/", 1)[1])
    return run_id, False


def webserver_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


def run_url(base_url: str, dagster_run_id: str) -> str:
    return f"{base_url.rstrip('/')}/runs/{dagster_run_id}"


@dataclass(frozen=True)
class RunState:
    """A Dagster run as `status`/`terminate` see it."""

    run_id: str
    status: str
    job_name: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def flow_name(self) -> str | None:
        return self.tags.get(FLOW_TAG)

    @property
    def in_background(self) -> bool:
        return self.tags.get(LAUNCHER_TAG) == BACKGROUND
