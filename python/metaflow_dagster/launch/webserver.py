"""A Dagster webserver (`dagster dev`, `dagster-webserver`), through its GraphQL API."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from .jobs import JobInfo, ParamSpec
from .state import (
    FLOW_TAG,
    HTTP_TIMEOUT,
    PROBE_TIMEOUT,
    ROOT_RUN_ID_TAG,
    LaunchError,
    RunState,
    webserver_url,
)

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
