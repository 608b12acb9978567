"""What `Deployer(...).dagster()` returns: a deployed job and its triggered runs."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import tempfile
import time
from typing import Any, ClassVar

from metaflow.exception import MetaflowException, MetaflowNotFound
from metaflow.runner.deployer import (
    DeployedFlow,
    Deployer,
    TriggeredRun,
    generate_fake_flow_file_contents,
)
from metaflow.runner.utils import get_lower_level_group, handle_timeout, temporary_fifo

from . import launch

# launch.ParamSpec kinds -> the type names generate_fake_flow_file_contents knows.
_FAKE_TYPES = {"str": "str", "int": "int", "float": "float", "bool": "bool"}

# Dagster run statuses in the words Metaflow's deployers use for a triggered run
# (Step Functions' as they are, Argo's in capitals), which Metaflow's own Deployer tests
# expect of every scheduler.
METAFLOW_STATUS = {
    "QUEUED": "PENDING",
    "NOT_STARTED": "PENDING",
    "STARTING": "PENDING",
    "STARTED": "RUNNING",
    "CANCELING": "RUNNING",
    "SUCCESS": "SUCCEEDED",
    "FAILURE": "FAILED",
    "CANCELED": "ABORTED",
}


class DagsterDeploymentNotFound(MetaflowException):
    headline = "Dagster job not found"


def _cli(
    deployer: Any, command: str, attribute_file: bool, **kwargs: Any
) -> tuple[int, str | None]:
    """Run `python flow.py dagster <command> ...` as the Deployer API does.

    Returns the exit code and, with `attribute_file`, what the command wrote to its
    --deployer-attribute-file (read while it runs, from a FIFO).
    """
    group = get_lower_level_group(
        deployer.api, deployer.top_level_kwargs, deployer.TYPE, deployer.deployer_kwargs
    )

    def start(**extra: Any) -> Any:
        args = getattr(group, command)(**extra, **kwargs)
        pid = deployer.spm.run_command(
            [sys.executable, *args],
            env=deployer.env_vars,
            cwd=deployer.cwd,
            show_output=deployer.show_output,
        )
        return deployer.spm.get(pid)

    if not attribute_file:
        proc = start()
        proc.sync_wait()
        return proc.process.returncode, None
    with temporary_fifo() as (path, fd):
        proc = start(deployer_attribute_file=path)
        content = handle_timeout(fd, proc, deployer.file_read_timeout)
        proc.sync_wait()
        return proc.process.returncode, content


class DagsterTriggeredRun(TriggeredRun):
    """A run of a Dagster job launched by `DagsterDeployedFlow.trigger`."""

    def __init__(self, deployer: Any, content: str) -> None:
        super().__init__(deployer=deployer, content=content)
        attributes = json.loads(content)
        run_id = self.pathspec.split("/", 1)[1]
        self.dagster_run_id: str = (
            attributes.get("dagster_run_id") or (launch.split_run_id(run_id)[0])
        )

    @property
    def dagster_ui_url(self) -> str:
        """The run's page in the Dagster UI."""
        return launch.run_url(self.deployer.dagster_url, self.dagster_run_id)

    @property
    def run(self) -> Any:
        """The Metaflow `Run`, or None until the start step began."""
        from metaflow import Run

        md = self.metadata_for_flow
        # Read the run where the flow records it (local metadata: its .metaflow).
        extra = {"_current_metadata": md} if md and not md.endswith("@None") else {}
        if extra and _local_datastore_missing(md):
            # Nothing is recorded there yet: the run's first task creates .metaflow.
            return None
        try:
            return Run(self.pathspec, _namespace_check=False, **extra)
        except MetaflowNotFound:
            return None

    @property
    def status(self) -> str | None:
        """The run's status in the words of Metaflow's other deployers (Step
        Functions', Argo's in capitals): PENDING, RUNNING, SUCCEEDED, FAILED or
        ABORTED; None if Dagster does not know the run (yet). Dagster's own:
        `dagster_status`."""
        status = self.dagster_status
        return None if status is None else METAFLOW_STATUS.get(status, status)

    @property
    def dagster_status(self) -> str | None:
        """The Dagster run status (QUEUED, STARTED, SUCCESS, FAILURE, CANCELED...),
        None if Dagster does not know the run (yet)."""
        runs = launch.Runs(self.deployer.dagster_url, self.deployer.dagster_home)
        try:
            state = runs.get(self.dagster_run_id)
        except launch.LaunchError:
            return None
        return None if state is None else state.status

    @property
    def is_running(self) -> bool:
        status = self.dagster_status
        return status is not None and status not in launch.FINISHED

    def wait_for_completion(
        self, check_interval: int = 5, timeout: int | None = None
    ) -> str | None:
        """Wait until the run finished; returns its final status (`status`'s words).

        Raises TimeoutError when `timeout` (seconds) passes first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.dagster_status
            if status in launch.FINISHED:
                return METAFLOW_STATUS[status]
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"Dagster run {self.dagster_run_id} is still {status} after "
                    f"{timeout}s."
                )
            time.sleep(check_interval)

    def terminate(self, **kwargs: Any) -> bool:
        """Terminate the run (`dagster terminate`) and wait until it stopped.

        Parameters
        ----------
        force : bool, optional, default False
            Mark the run canceled at once instead of waiting for it to stop.
        timeout : int, optional, default 180
            Seconds to wait for the run to stop.

        Returns
        -------
        bool
            True if the command succeeded.
        """
        code, _ = _cli(
            self.deployer,
            "terminate",
            attribute_file=False,
            run_id=self.dagster_run_id,
            dagster_url=self.deployer.dagster_url,
            **kwargs,
        )
        return code == 0


class DagsterDeployedFlow(DeployedFlow):
    """A flow compiled into a Dagster job (`Deployer(...).dagster().create()`)."""

    TYPE: ClassVar[str | None] = "dagster"

    @property
    def file(self) -> str | None:
        """The generated definitions file, when known on this machine."""
        info = getattr(self.deployer, "additional_info", None) or {}
        return info.get("file")

    def trigger(self, **kwargs: Any) -> DagsterTriggeredRun:
        """
        Launch a run of the job (`dagster trigger`).

        Parameters
        ----------
        **kwargs : Any
            The flow's parameters by name, and options of `dagster trigger`
            (`launcher="auto"|"webserver"|"background"`).

        Returns
        -------
        DagsterTriggeredRun
            The launched run.
        """
        options: dict[str, Any] = {
            "job_name": self.deployer.name,
            "dagster_url": self.deployer.dagster_url,
        }
        if self.file and os.path.isfile(self.file):
            options["defs_file"] = self.file
        options.update(kwargs)
        code, content = _cli(self.deployer, "trigger", attribute_file=True, **options)
        if code != 0 or not content:
            raise MetaflowException(
                f"Could not trigger Dagster job {self.deployer.name} of "
                f"{self.deployer.flow_file}."
            )
        return DagsterTriggeredRun(deployer=self.deployer, content=content)

    @classmethod
    def from_deployment(
        cls, identifier: str, metadata: str | None = None
    ) -> DagsterDeployedFlow:
        """
        The deployed flow of a Dagster job.

        Parameters
        ----------
        identifier : str
            The job name, looked up on the Dagster webserver at $DAGSTER_URL (default
            http://127.0.0.1:3000), or where none answers, among the jobs
            `dagster create` recorded in $DAGSTER_HOME; or the path of a generated
            definitions file, optionally followed by `:<job name>`.
        metadata : str, optional, default None
            Metaflow metadata of the flow's runs (default: the current one).

        Returns
        -------
        DagsterDeployedFlow
        """
        return cls._from_job(_find_job(identifier), metadata)

    @classmethod
    def list_deployed_flows(cls, flow_name: str | None = None) -> Any:
        """The Metaflow jobs the Dagster webserver at $DAGSTER_URL serves."""
        webserver = launch.Webserver()
        if not webserver.answers():
            return
        for job in webserver.jobs(flow_name):
            yield cls._from_job(_with_local_file(job), None)

    @classmethod
    def get_triggered_run(
        cls, identifier: str, run_id: str, metadata: str | None = None
    ) -> DagsterTriggeredRun:
        """
        A run of a Dagster job.

        Parameters
        ----------
        identifier : str
            As for `from_deployment`.
        run_id : str
            The Metaflow run id (`dagster-<Dagster run id>`) or the Dagster run id.
        metadata : str, optional, default None
            Metaflow metadata of the flow's runs.
        """
        deployed = cls.from_deployment(identifier, metadata)
        dagster_run_id, _ = launch.split_run_id(run_id)
        run = launch.metaflow_run_id(dagster_run_id)
        content = {
            "name": deployed.name,
            "metadata": deployed.metadata,
            "pathspec": f"{deployed.flow_name}/{run}",
            "dagster_run_id": dagster_run_id,
        }
        return DagsterTriggeredRun(deployed.deployer, json.dumps(content))

    @classmethod
    def _from_job(
        cls, job: launch.JobInfo, metadata: str | None
    ) -> DagsterDeployedFlow:
        from metaflow.client.core import get_metadata

        source = generate_fake_flow_file_contents(
            flow_name=job.flow_name, param_info=_param_info(job.params)
        )
        with tempfile.NamedTemporaryFile(
            "w", suffix=".py", prefix="dagster_deployed_", delete=False
        ) as f:
            f.write(source)
        file = job.file if job.file and os.path.isfile(job.file) else None
        # Commands run beside the generated file when it is here (where the flow's
        # own commands ran), else beside the stand-in: never in whatever directory
        # this process happens to be in (Metaflow may create a datastore there).
        cwd = os.path.dirname(file or f.name)
        deployer = Deployer(f.name, cwd=cwd).dagster()
        deployer.name = job.name
        deployer.flow_name = job.flow_name
        deployer.metadata = metadata or job.metadata or get_metadata()
        deployer.additional_info = {"file": file}
        return cls(deployer=deployer)


def _local_datastore_missing(md: str) -> bool:
    """Whether `md` selects local metadata in a directory without its `.metaflow`.

    The Metaflow client refuses to select such metadata at all:
    `Run(..., _current_metadata=md)` sets the provider's INFO, and
    `LocalMetadataProvider.compute_info` raises ValueError("Could not find directory
    .metaflow in directory ...") unless that directory exists. For a run's metadata
    it means no run was recorded there yet (the run's first task creates it, as a
    flow's first `run` does in a new directory): no Run, as the client's own answer
    where no .metaflow is found (MetaflowNotFound). Any other metadata, or any other
    failure, is left to the client.
    """
    from metaflow.client.core import _metadata
    from metaflow.metaflow_config import DATASTORE_LOCAL_DIR
    from metaflow.plugins.metadata_providers.local import LocalMetadataProvider

    provider, info = _metadata(md)
    if provider is None or not info or not issubclass(provider, LocalMetadataProvider):
        return False
    # Metaflow before 2.19.x has no DATASTORE_DIR: compute_info joins the setting.
    directory = getattr(provider, "DATASTORE_DIR", DATASTORE_LOCAL_DIR)
    datastore = os.path.realpath(os.path.join(info, directory))
    return not os.path.isdir(datastore)


def _find_job(identifier: str) -> launch.JobInfo:
    path, name = identifier, ""
    if ".py:" in identifier:
        path, name = identifier.rsplit(":", 1)
    try:
        if path.endswith(".py") and os.path.isfile(path):
            return launch.pick_job(launch.jobs_in_file(path), name or None, path)
        webserver = launch.Webserver()
        if not webserver.answers():
            # As `create` recorded it in this instance ($DAGSTER_HOME).
            file = launch.recorded_file(identifier)
            if file is not None:
                return launch.pick_job(launch.jobs_in_file(file), identifier, file)
            raise DagsterDeploymentNotFound(
                f"No Dagster webserver answers at {webserver.url} to look up job "
                f"{identifier!r}, and `dagster create` recorded no such job in "
                f"$DAGSTER_HOME: set {launch.URL_ENV}, or pass the path of the "
                "generated file."
            )
        jobs = [j for j in webserver.jobs() if j.name == identifier]
    except launch.LaunchError as exc:
        raise DagsterDeploymentNotFound(str(exc)) from None
    if not jobs:
        raise DagsterDeploymentNotFound(
            f"The Dagster webserver at {webserver.url} serves no Metaflow job "
            f"{identifier!r}."
        )
    if len(jobs) > 1:
        where = ", ".join(sorted(str(j.location) for j in jobs))
        raise DagsterDeploymentNotFound(
            f"Several code locations serve job {identifier!r} ({where}): pass the "
            "path of the generated file instead."
        )
    return _with_local_file(jobs[0])


def _with_local_file(job: launch.JobInfo) -> launch.JobInfo:
    """What the generated file adds when it is on this machine (metadata)."""
    if job.file is None or not os.path.isfile(job.file):
        return job
    try:
        local = launch.pick_job(launch.jobs_in_file(job.file), job.name, job.file)
    except launch.LaunchError:
        return job
    return dataclasses.replace(local, location=job.location, repository=job.repository)


def _param_info(params: tuple[launch.ParamSpec, ...]) -> dict[str, dict[str, Any]]:
    """Parameter descriptions for Metaflow's stand-in flow file."""
    info: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(params):
        info[p.name] = {
            "name": p.name,
            # Unique, an identifier, and never a FlowSpec attribute.
            "python_var_name": f"param{i}_" + re.sub(r"\W", "_", p.name),
            "type": _FAKE_TYPES.get(p.kind, "JSON"),
            # The stand-in file puts the help in '''...''': keep it a plain literal.
            "description": p.help.replace("\\", "\\\\").replace("'", "\\'"),
            "is_required": p.required,
        }
    return info
