"""The generated definitions file: its jobs, their parameters, their run config."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .state import FLOW_TAG, REPOSITORY_NAME, LaunchError


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


def definitions_attr(module: ModuleType) -> str:
    from dagster import Definitions

    for attr, value in vars(module).items():
        if isinstance(value, Definitions):
            return attr
    raise LaunchError(f"{module.__file__} defines no dagster Definitions object.")


def jobs_in_file(path: str, flow_name: str | None = None) -> list[JobInfo]:
    """The Metaflow jobs of a generated file (those of `flow_name` if given)."""
    module = load_generated(path)
    defs = getattr(module, definitions_attr(module))
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
    from ..runtime.dagster_adapter import ConfigTypeKind

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
