"""Background runs: a detached process of this machine, in $DAGSTER_HOME's instance.

The Dagster run id is chosen here, before the process starts, so the Metaflow run id
(`dagster-<Dagster run id>`, as the generated ops derive it) is known up front.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .jobs import JobInfo, definitions_attr, load_generated
from .state import (
    BACKGROUND,
    HOST_TAG,
    LAUNCHER_TAG,
    PID_TAG,
    ROOT_RUN_ID_TAG,
    URL_ENV,
    LaunchError,
    RunState,
    metaflow_run_id,
)


def _instance(home: str | None = None) -> Any:
    from dagster import DagsterInstance

    home = home or os.environ.get("DAGSTER_HOME")
    if not home:
        raise LaunchError(
            "No Dagster webserver answers, and DAGSTER_HOME is not set. Start one "
            "(`dagster dev -f <generated file>`, or give its address with "
            f"--dagster-url / ${URL_ENV}), or set DAGSTER_HOME to a directory for the "
            "Dagster instance that records runs launched in the background."
        )
    try:
        if home == os.environ.get("DAGSTER_HOME"):
            return DagsterInstance.get()
        return DagsterInstance.from_config(os.path.expanduser(home))
    except Exception as exc:
        raise LaunchError(f"Cannot open the Dagster instance: {exc}") from exc


@dataclass(frozen=True)
class Launched:
    dagster_run_id: str
    background_pid: int | None = None
    log_file: str | None = None

    @property
    def metaflow_run_id(self) -> str:
        return metaflow_run_id(self.dagster_run_id)


def launch_background(
    job: JobInfo, config: Mapping[str, Any], tags: Mapping[str, str] | None = None
) -> Launched:
    """Create the run in $DAGSTER_HOME's instance, then execute it detached."""
    from ..runtime.dagster_adapter import ReconstructableRepository

    if job.file is None:
        raise LaunchError(
            f"No webserver answers, and the generated file of job {job.name} is "
            "unknown: pass it with --file to launch the run in the background."
        )
    instance = _instance()
    module = load_generated(job.file)
    attr = definitions_attr(module)
    workdir = os.path.dirname(job.file)
    recon_job = ReconstructableRepository.for_file(
        job.file, attr, working_directory=workdir
    ).get_reconstructable_job(job.name)
    run_id = str(uuid.uuid4())
    job_def = recon_job.get_definition()
    all_tags = {
        **(job_def.tags or {}),
        **(tags or {}),
        LAUNCHER_TAG: BACKGROUND,
        HOST_TAG: socket.gethostname(),
    }
    try:
        instance.create_run_for_job(
            job_def=job_def,
            run_id=run_id,
            run_config=dict(config),
            tags=all_tags,
            job_code_origin=recon_job.get_python_origin(),
        )
    except Exception as exc:  # config errors surface here, before anything runs
        raise LaunchError(f"Dagster refused the run of {job.name}: {exc}") from exc
    logs = os.path.join(instance.root_directory, "metaflow_dagster")
    os.makedirs(logs, exist_ok=True)
    log_file = os.path.join(logs, f"{run_id}.log")
    args = [sys.executable, "-m", "metaflow_dagster.launch", "execute"]
    args += [run_id, job.file, attr, job.name]
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            args,
            cwd=workdir,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own session: the caller's terminal (Ctrl-C) and exit do not reach it.
            start_new_session=True,
        )
    instance.add_run_tags(run_id, {PID_TAG: str(proc.pid)})
    return Launched(run_id, background_pid=proc.pid, log_file=log_file)


def execute_run_here(run_id: str, file: str, attr: str, job_name: str) -> int:
    """The background process: execute the run created by `launch_background`."""
    # Started from a non-interactive shell, SIGINT may be ignored: restore it, and
    # let SIGTERM interrupt the run the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    from dagster import DagsterInstance, DagsterRunStatus

    from ..runtime.dagster_adapter import ReconstructableRepository, execute_run

    instance = DagsterInstance.get()
    run = instance.get_run_by_id(run_id)
    if run is None:
        print(f"No run {run_id} in {instance.root_directory}.", file=sys.stderr)
        return 2
    try:
        recon_job = ReconstructableRepository.for_file(
            file, attr, working_directory=os.path.dirname(file)
        ).get_reconstructable_job(job_name)
        result = execute_run(recon_job, run, instance)
    except BaseException as exc:
        # Never leave the run NOT_STARTED/STARTED when this process cannot go on.
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            if run.status == DagsterRunStatus.CANCELING:
                instance.report_run_canceled(run, message="Terminated.")
            else:
                instance.report_run_failed(run, message=f"Launcher failed: {exc!r}")
        raise
    return 0 if result.success else 1


def _local_run(instance: Any, run_id: str, group: bool) -> RunState | None:
    from dagster import RunsFilter

    run = None
    if group:
        later = instance.get_runs(
            filters=RunsFilter(tags={ROOT_RUN_ID_TAG: run_id}), limit=1
        )
        run = later[0] if later else None
    run = run or instance.get_run_by_id(run_id)
    if run is None:
        return None
    return RunState(
        run_id=run.run_id,
        status=run.status.value,
        job_name=run.job_name,
        tags=dict(run.tags),
    )


def _worker_alive(state: RunState) -> bool | None:
    """Whether the background process of a run still runs (None: not knowable)."""
    pid = state.tags.get(PID_TAG)
    if pid is None or state.tags.get(HOST_TAG) != socket.gethostname():
        return None
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            zombie = f.read().rpartition(b")")[2].split()[0] == b"Z"
    except (OSError, ValueError, IndexError):
        return False
    # Not a recycled pid: the process is the worker of this very run.
    return not zombie and state.run_id.encode() in cmdline
