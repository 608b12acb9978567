"""Launch, follow and stop runs of a generated Dagster job.

Two ways to launch a run:

* on a running Dagster webserver (`dagster dev`, `dagster-webserver`), through its
  GraphQL API: `launchRun`, then `runOrError` / `terminateRun`. The run is queued and
  executed by the webserver's instance, exactly like a run launched from the UI.
* when no webserver answers, in a detached background process of this machine that
  executes the run with the job's executor in the instance of
  `$DAGSTER_HOME` (`python -m metaflow_dagster.launch ...`, see `_execute`). The
  Dagster run id is chosen here, before the process starts, so the Metaflow run id
  (`dagster-<Dagster run id>`, as the generated ops derive it) is known up front.

Nothing here imports Dagster at module level: the webserver path needs only the
standard library, and Metaflow imports the deployer (which imports this lazily) at
start-up.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

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


# ---------------------------------------------------------------------------------
# Run ids


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


# ---------------------------------------------------------------------------------
# The generated definitions file


@dataclass(frozen=True)
class ParamSpec:
    """A Metaflow parameter as the job's start op takes it (config key = name)."""

    name: str
    kind: str  # "str", "int", "float", "bool" or "json" (the runtime's FLOW kinds)
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class JobInfo:
    """A Dagster job generated for a Metaflow flow."""

    name: str
    flow_name: str
    # The generated file, absolute; None when only a webserver told us about the job.
    file: str | None = None
    # The op that takes the flow's parameters as config; None without parameters.
    start_op: str | None = None
    params: tuple[ParamSpec, ...] = ()
    # Where a webserver serves it (set by `Webserver.find_job`).
    location: str | None = None
    repository: str = REPOSITORY_NAME
    # Where the job's runs record their Metaflow metadata (`local@<dir>`), when the
    # generated file tells (local metadata, resolved from the flow's directory).
    metadata: str | None = None


def load_generated(path: str) -> ModuleType:
    """Import a generated definitions file under a private module name."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise LaunchError(f"No Dagster definitions file at {path}.")
    name = "_mfdagster_defs_" + uuid.uuid4().hex[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LaunchError(f"Cannot import {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise LaunchError(f"Importing {path} failed: {exc!r}") from exc
    return module


def _definitions_attr(module: ModuleType) -> str:
    from dagster import Definitions

    for attr, value in vars(module).items():
        if isinstance(value, Definitions):
            return attr
    raise LaunchError(f"{module.__file__} defines no dagster Definitions object.")


def jobs_in_file(path: str, flow_name: str | None = None) -> list[JobInfo]:
    """The Metaflow jobs of a generated file (those of `flow_name` if given)."""
    module = load_generated(path)
    defs = getattr(module, _definitions_attr(module))
    flow = getattr(module, "FLOW", None)
    if flow is None:
        raise LaunchError(
            f"{path} is not a file written by `dagster create` (no FLOW object)."
        )
    kinds: Mapping[str, str] = dict(getattr(flow, "parameters", {}) or {})
    metadata = local_metadata(
        metadata=getattr(flow, "metadata", None),
        datastore=getattr(flow, "datastore", "local"),
        datastore_root=getattr(flow, "datastore_root", None),
        flow_dir=getattr(flow, "flow_dir", None),
    )
    found: list[JobInfo] = []
    for job in defs.resolve_all_job_defs():
        tagged = (job.tags or {}).get(FLOW_TAG)
        if tagged is None or (flow_name is not None and tagged != flow_name):
            continue
        start_op = _start_op_of(job)
        found.append(
            JobInfo(
                name=job.name,
                flow_name=str(tagged),
                file=os.path.abspath(path),
                start_op=start_op,
                params=_params_of(job, start_op, kinds),
                metadata=metadata,
            )
        )
    return found


def local_metadata(
    *,
    metadata: str | None,
    datastore: str,
    datastore_root: str | None,
    flow_dir: str | None,
) -> str | None:
    """`local@<dir holding .metaflow>` for a flow on local metadata and datastore.

    The generated ops resolve the datastore from the flow's directory upwards (as
    Metaflow does from its working directory): the Metaflow client must look there.
    """
    if metadata != "local" or datastore != "local":
        return None
    if datastore_root:
        return "local@" + os.path.dirname(os.path.realpath(datastore_root))
    current = flow_dir
    while current:
        if os.path.isdir(os.path.join(current, ".metaflow")):
            return "local@" + os.path.realpath(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    # Not created yet: the first run creates it beside the flow.
    return "local@" + os.path.realpath(flow_dir) if flow_dir else None


def _start_op_of(job: Any) -> str | None:
    """The op whose config is the flow's parameters (a shape, not `Any`)."""
    from dagster._config import ConfigTypeKind

    for node in job.graph.nodes:
        config_field = getattr(node.definition, "config_field", None)
        if config_field is None:
            continue
        if ConfigTypeKind.is_shape(config_field.config_type.kind):
            return str(node.name)
    return None


def _params_of(
    job: Any, start_op: str | None, kinds: Mapping[str, str]
) -> tuple[ParamSpec, ...]:
    if start_op is None:
        return ()
    config_type = job.graph.node_named(start_op).definition.config_field.config_type
    specs = []
    for name, fld in sorted(config_type.fields.items()):
        specs.append(
            ParamSpec(
                name=name,
                kind=kinds.get(name, "str"),
                required=bool(fld.is_required),
                help=fld.description or "",
            )
        )
    return tuple(specs)


def pick_job(jobs: Sequence[JobInfo], job_name: str | None, where: str) -> JobInfo:
    if job_name is not None:
        for job in jobs:
            if job.name == job_name:
                return job
        names = ", ".join(sorted(j.name for j in jobs)) or "none"
        raise LaunchError(f"{where} has no job {job_name!r} of this flow ({names}).")
    if len(jobs) == 1:
        return jobs[0]
    if not jobs:
        raise LaunchError(f"{where} has no job of this flow.")
    names = ", ".join(sorted(j.name for j in jobs))
    raise LaunchError(f"{where} has several jobs of this flow ({names}): pick one.")


def run_config(job: JobInfo, values: Mapping[str, Any]) -> dict[str, Any]:
    """`{"ops": {<start op>: {"config": {<Metaflow parameter name>: value}}}}`."""
    if not values:
        return {}
    if job.start_op is None:
        raise LaunchError(
            f"Job {job.name} takes no parameters, but values were given for "
            f"{', '.join(sorted(values))}."
        )
    return {"ops": {job.start_op: {"config": dict(values)}}}


# ---------------------------------------------------------------------------------
# A Dagster webserver, through its GraphQL API


_LOCATIONS_QUERY = """
query MetaflowDagsterJobs {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        displayMetadata { key value }
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories {
              name
              pipelines {
                name
                tags { key value }
                solids {
                  name
                  definition {
                    ... on SolidDefinition {
                      configField {
                        configType {
                          __typename
                          ... on CompositeConfigType {
                            fields {
                              name
                              isRequired
                              description
                              configTypeKey
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

_LAUNCH_MUTATION = """
mutation MetaflowDagsterLaunch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""

_RUN_FIELDS = "runId status jobName rootRunId tags { key value }"

_RUN_QUERY = f"""
query MetaflowDagsterRun($runId: ID!, $root: String!) {{
  runOrError(runId: $runId) {{
    __typename
    ... on Run {{ {_RUN_FIELDS} }}
    ... on Error {{ message }}
  }}
  runsOrError(
    filter: {{tags: [{{key: "{ROOT_RUN_ID_TAG}", value: $root}}]}}, limit: 1
  ) {{
    __typename
    ... on Runs {{ results {{ {_RUN_FIELDS} }} }}
    ... on Error {{ message }}
  }}
}}
"""

_TERMINATE_MUTATION = """
mutation MetaflowDagsterTerminate($runId: String!, $policy: TerminateRunPolicy) {
  terminateRun(runId: $runId, terminatePolicy: $policy) {
    __typename
    ... on TerminateRunSuccess { run { runId status } }
    ... on Error { message }
  }
}
"""

# Dagster config type keys of the start op's fields -> the runtime's parameter kinds.
_CONFIG_KINDS = {"Int": "int", "Float": "float", "Bool": "bool", "String": "str"}


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


def _opener(url: str) -> urllib.request.OpenerDirector:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        # A loopback webserver is never behind the environment's HTTP proxy.
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


class Webserver:
    def __init__(self, url: str | None = None) -> None:
        self.url = webserver_url(url)
        self._open = _opener(self.url).open

    def answers(self) -> bool:
        """Whether a Dagster webserver serves this address (`/server_info`)."""
        try:
            with self._open(self.url + "/server_info", timeout=PROBE_TIMEOUT) as r:
                info = json.loads(r.read().decode("utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(info, dict) and "dagster_webserver_version" in info

    def execute(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": dict(variables)}).encode()
        request = urllib.request.Request(
            self.url + "/graphql",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with self._open(request, timeout=HTTP_TIMEOUT) as r:
                reply = json.loads(r.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:2000]
            raise LaunchError(
                f"Dagster webserver {self.url} answered HTTP {exc.code}: {detail}"
            ) from None
        except (OSError, ValueError) as exc:
            raise LaunchError(f"Dagster webserver {self.url}: {exc}") from None
        if reply.get("errors"):
            messages = "; ".join(str(e.get("message")) for e in reply["errors"])
            raise LaunchError(f"Dagster webserver {self.url}: {messages}")
        return dict(reply.get("data") or {})

    # -- jobs ------------------------------------------------------------------

    def jobs(self, flow_name: str | None = None) -> list[JobInfo]:
        """Every Metaflow job the webserver serves (of `flow_name` if given)."""
        data = self.execute(_LOCATIONS_QUERY, {})["workspaceOrError"]
        if data["__typename"] != "Workspace":
            raise LaunchError(f"Dagster webserver {self.url}: {data.get('message')}")
        found = []
        for entry in data["locationEntries"]:
            location = entry.get("locationOrLoadError") or {}
            if location.get("__typename") != "RepositoryLocation":
                continue
            meta = {m["key"]: m["value"] for m in entry.get("displayMetadata") or []}
            file = _served_file(meta)
            for repo in location["repositories"]:
                for job in repo["pipelines"]:
                    tags = {t["key"]: t["value"] for t in job.get("tags") or []}
                    tagged = tags.get(FLOW_TAG)
                    if tagged is None or (
                        flow_name is not None and tagged != flow_name
                    ):
                        continue
                    start_op, params = _start_op_from_solids(job.get("solids") or [])
                    found.append(
                        JobInfo(
                            name=job["name"],
                            flow_name=tagged,
                            file=file,
                            start_op=start_op,
                            params=params,
                            location=entry["name"],
                            repository=repo["name"],
                        )
                    )
        return found

    def find_job(
        self, job_name: str, flow_name: str | None, file: str | None = None
    ) -> JobInfo:
        """The job to launch; with several locations serving it, the one of `file`."""
        candidates = [j for j in self.jobs(flow_name) if j.name == job_name]
        if len(candidates) > 1 and file is not None:
            mine = [
                j for j in candidates if j.file is not None and _same_file(j.file, file)
            ]
            candidates = mine or candidates
        if not candidates:
            raise LaunchError(
                f"The Dagster webserver at {self.url} serves no job {job_name!r}"
                + (f" of flow {flow_name}" if flow_name else "")
                + ". Serve the generated file (`dagster dev -f <file>`) or reload "
                "its code location."
            )
        if len(candidates) > 1:
            where = ", ".join(sorted(str(j.location) for j in candidates))
            raise LaunchError(
                f"Several code locations of {self.url} serve job {job_name!r} "
                f"({where}); pass the generated file with --file to pick one."
            )
        return candidates[0]

    # -- runs ------------------------------------------------------------------

    def launch(
        self,
        job: JobInfo,
        config: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
    ) -> str:
        if job.location is None:
            raise LaunchError(f"No code location known for job {job.name}.")
        params: dict[str, Any] = {
            "selector": {
                "repositoryLocationName": job.location,
                "repositoryName": job.repository,
                "jobName": job.name,
            },
            "runConfigData": dict(config),
        }
        if tags:
            params["executionMetadata"] = {
                "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]
            }
        result = self.execute(_LAUNCH_MUTATION, {"executionParams": params})
        launched = result["launchRun"]
        if launched["__typename"] == "LaunchRunSuccess":
            return str(launched["run"]["runId"])
        if launched["__typename"] == "RunConfigValidationInvalid":
            errors = "; ".join(e["message"] for e in launched["errors"])
            raise LaunchError(f"Dagster rejected the parameter values: {errors}")
        raise LaunchError(
            f"Dagster did not launch {job.name} ({launched['__typename']}): "
            f"{launched.get('message', '')}"
        )

    def run(self, run_id: str, group: bool = False) -> RunState | None:
        """A run; with `group`, the latest run of the group rooted at `run_id`."""
        data = self.execute(_RUN_QUERY, {"runId": run_id, "root": run_id})
        latest = data.get("runsOrError") or {}
        if group and latest.get("__typename") == "Runs" and latest["results"]:
            return _state(latest["results"][0])
        found = data["runOrError"]
        if found["__typename"] == "Run":
            return _state(found)
        if found["__typename"] == "RunNotFoundError":
            return None
        raise LaunchError(f"Dagster webserver {self.url}: {found.get('message')}")

    def terminate(self, run_id: str, force: bool) -> tuple[bool, str]:
        policy = "MARK_AS_CANCELED_IMMEDIATELY" if force else "SAFE_TERMINATE"
        data = self.execute(_TERMINATE_MUTATION, {"runId": run_id, "policy": policy})
        result = data["terminateRun"]
        return result["__typename"] == "TerminateRunSuccess", str(
            result.get("message") or result["__typename"]
        )


def _state(run: Mapping[str, Any]) -> RunState:
    return RunState(
        run_id=str(run["runId"]),
        status=str(run["status"]),
        job_name=str(run.get("jobName") or ""),
        tags={t["key"]: t["value"] for t in run.get("tags") or []},
    )


def _served_file(meta: Mapping[str, str]) -> str | None:
    python_file = meta.get("python_file")
    if not python_file:
        return None
    base = meta.get("working_directory") or ""
    return os.path.normpath(os.path.join(base, python_file))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _start_op_from_solids(
    solids: Sequence[Mapping[str, Any]],
) -> tuple[str | None, tuple[ParamSpec, ...]]:
    for solid in solids:
        config_field = (solid.get("definition") or {}).get("configField") or {}
        config_type = config_field.get("configType") or {}
        if config_type.get("__typename") != "CompositeConfigType":
            continue
        params = tuple(
            ParamSpec(
                name=f["name"],
                kind=_CONFIG_KINDS.get(_bare_type(f["configTypeKey"]), "json"),
                required=bool(f["isRequired"]),
                help=f.get("description") or "",
            )
            for f in sorted(config_type.get("fields") or [], key=lambda f: f["name"])
        )
        return str(solid["name"]), params
    return None, ()


def _bare_type(key: str) -> str:
    # Optional fields are `Noneable.Int`; lists and the like fall back to JSON.
    return key.split(".", 1)[1] if key.startswith("Noneable.") else key


# ---------------------------------------------------------------------------------
# Background runs: a detached process of this machine, in $DAGSTER_HOME's instance


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
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    if job.file is None:
        raise LaunchError(
            f"No webserver answers, and the generated file of job {job.name} is "
            "unknown: pass it with --file to launch the run in the background."
        )
    instance = _instance()
    module = load_generated(job.file)
    attr = _definitions_attr(module)
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


def _execute(run_id: str, file: str, attr: str, job_name: str) -> int:
    """The background process: execute the run created by `launch_background`."""
    # Started from a non-interactive shell, SIGINT may be ignored: restore it, and
    # let SIGTERM interrupt the run the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run

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


# ---------------------------------------------------------------------------------
# What the CLI and the Deployer call


class Runs:
    """Status and termination of runs, through the webserver if one answers."""

    def __init__(self, url: str | None = None, dagster_home: str | None = None) -> None:
        self.webserver = Webserver(url)
        self.dagster_home = dagster_home
        self._answers: bool | None = None
        self._instance: Any = None

    @property
    def via_webserver(self) -> bool:
        if self._answers is None:
            self._answers = self.webserver.answers()
        return self._answers

    @property
    def instance(self) -> Any:
        if self._instance is None:
            self._instance = _instance(self.dagster_home)
        return self._instance

    def get(self, run_id: str) -> RunState | None:
        """`run_id`: a Metaflow run id (`dagster-<id>`, the latest run of the group)
        or a Dagster run id (that very run)."""
        dagster_id, group = split_run_id(run_id)
        if self.via_webserver:
            return self.webserver.run(dagster_id, group=group)
        return _local_run(self.instance, dagster_id, group)

    def terminate(
        self,
        run_id: str,
        force: bool = False,
        timeout: float = 180.0,
        say: Any = None,
    ) -> RunState:
        """Stop a run and wait until it no longer runs; returns its final state."""
        say = say or (lambda _msg: None)
        state = self._require(run_id)
        if state.finished:
            return state
        if state.in_background:
            return self._terminate_background(state, force, timeout, say)
        if not self.via_webserver:
            raise LaunchError(
                f"Run {state.run_id} was launched by a Dagster webserver, and none "
                f"answers at {self.webserver.url}: give its address with "
                f"--dagster-url or ${URL_ENV}."
            )
        deadline = time.monotonic() + timeout
        if force:
            ok, message = self.webserver.terminate(state.run_id, force=True)
            if not ok:
                raise LaunchError(f"Dagster did not cancel {state.run_id}: {message}")
            return self._wait(state.run_id, deadline)
        asked = False
        while True:
            state = self._require(state.run_id)
            if state.finished:
                return state
            if state.status in CANCELABLE and not asked:
                ok, message = self.webserver.terminate(state.run_id, force=False)
                asked = ok
                if not ok:
                    state = self._require(state.run_id)
                    if state.finished:
                        return state
                    if "Unable to terminate" in message:
                        # Dagster cannot reach the run's process any more (its code
                        # server restarted or the process died): mark it canceled.
                        say(
                            f"Dagster cannot reach the process of run {state.run_id} "
                            "any more; marking it canceled."
                        )
                        self.webserver.terminate(state.run_id, force=True)
                        return self._wait(state.run_id, deadline)
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"Run {state.run_id} is still {state.status} after "
                    f"{timeout:.0f}s; use --force to mark it canceled immediately."
                )
            time.sleep(POLL_SECONDS)

    def _terminate_background(
        self, state: RunState, force: bool, timeout: float, say: Any
    ) -> RunState:
        if _worker_alive(state) is None:
            raise LaunchError(
                f"Run {state.run_id} runs in a background process of host "
                f"{state.tags.get(HOST_TAG)}: terminate it there."
            )
        deadline = time.monotonic() + timeout
        signalled = False
        while True:
            state = self._require(state.run_id)
            if state.finished:
                return state
            if not _worker_alive(state):
                break
            # Interrupt the process once the run STARTED: Dagster records an
            # interruption as a cancellation only if the run is CANCELING then, and the
            # process's own start event would overwrite an earlier CANCELING.
            if not signalled and (force or state.status in ("STARTED", "CANCELING")):
                self._interrupt(state)
                signalled = True
            if force:
                break
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"Run {state.run_id} is still {state.status} after "
                    f"{timeout:.0f}s; use --force to mark it canceled immediately."
                )
            time.sleep(POLL_SECONDS)
        # The process is gone without finishing the run (or --force): record the run
        # as canceled.
        say(f"Marking run {state.run_id} canceled.")
        run = self.instance.get_run_by_id(state.run_id)
        if run is not None and not run.is_finished:
            self.instance.report_run_canceled(run, message="Canceled by `terminate`.")
        return self._require(state.run_id)

    def _interrupt(self, state: RunState) -> None:
        run = self.instance.get_run_by_id(state.run_id)
        if run is not None and not run.is_finished and run.status.value != "CANCELING":
            self.instance.report_run_canceling(run)
        try:
            os.kill(int(state.tags[PID_TAG]), signal.SIGINT)
        except ProcessLookupError:
            pass

    def _wait(self, run_id: str, deadline: float) -> RunState:
        while True:
            state = self._require(run_id)
            if state.finished or time.monotonic() > deadline:
                return state
            time.sleep(POLL_SECONDS)

    def _require(self, run_id: str) -> RunState:
        state = self.get(run_id)
        if state is None:
            where = (
                self.webserver.url
                if self.via_webserver
                else (self.dagster_home or os.environ.get("DAGSTER_HOME"))
            )
            raise LaunchError(f"No Dagster run {run_id} at {where}.")
        return state


def wait_until(
    runs: Runs, run_id: str, statuses: Sequence[str], timeout: float
) -> RunState | None:
    """Poll until the run's status is one of `statuses` (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = runs.get(run_id)
        if state is not None and state.status in statuses:
            return state
        time.sleep(POLL_SECONDS)
    return state


def main(argv: Sequence[str]) -> int:
    if len(argv) == 5 and argv[0] == "execute":
        return _execute(*argv[1:])
    print(
        "usage: python -m metaflow_dagster.launch execute RUN_ID FILE ATTR JOB "
        "(started by `python flow.py dagster trigger`)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
