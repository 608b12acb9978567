"""The jobs `create` wrote, recorded in the Dagster instance's directory, so that a job
can be found by its name where no webserver answers (the Deployer's `from_deployment`),
as Metaflow's Argo Workflows integration finds a deployment by name in its cluster.

One small JSON file per job: `$DAGSTER_HOME/metaflow_dagster/deployments/<job>.json`,
holding the generated file's absolute path and the flow's name. Without DAGSTER_HOME
there is no instance directory to share, and nothing is recorded.
"""

from __future__ import annotations

import json
import os

DAGSTER_HOME_ENV = "DAGSTER_HOME"


def _path(job_name: str) -> str | None:
    home = os.environ.get(DAGSTER_HOME_ENV)
    if not home or "/" in job_name or job_name.startswith("."):
        return None
    return os.path.join(home, "metaflow_dagster", "deployments", f"{job_name}.json")


def record_deployment(job_name: str, file: str, flow_name: str) -> None:
    path = _path(job_name)
    if path is None:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    content = {"file": os.path.abspath(file), "flow_name": flow_name}
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(content, f)
    os.replace(tmp, path)


def recorded_file(job_name: str) -> str | None:
    """The generated file of job `job_name` as `create` recorded it, if it is still
    there."""
    path = _path(job_name)
    if path is None or not os.path.isfile(path):
        return None
    with open(path) as f:
        file = json.load(f).get("file")
    return file if isinstance(file, str) and os.path.isfile(file) else None
