"""Turn a live Metaflow flow (graph, decorators, parameters) into the flow IR.

The IR is plain JSON data; the TypeScript compiler decides everything else. This module
reads what Metaflow itself resolved, so the compiled job sees the flow exactly as
`python flow.py run` would.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
from collections.abc import Iterable
from typing import Any

from . import __version__
from .artifacts import step_artifacts
from .deploy_time import (
    automation_ir,
    configs_ir,
    exit_hooks_ir,
    json_safe,
    project_flow_name,
    project_ir,
    timeout_seconds,
)
from .errors import IntrospectionError
from .parameters import parameters_ir

IR_VERSION = 2


def _version(package: str) -> str:
    """The installed version of `package`, from its distribution's metadata (cheap:
    `create` does not import Dagster); "unknown" where it has none (a source tree)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _step_decorators(flow: Any, node: Any) -> Iterable[Any]:
    return getattr(flow, node.name).decorators


def _retries(flow_name: str, node: Any, decos: Iterable[Any]) -> dict[str, int]:
    user, error = 0, 0
    for deco in decos:
        u, e = deco.step_task_retry_count()
        if u is None and e is None:
            # A decorator that forbids retries wins over every other opinion.
            return {"user": 0, "error": 0}
        user, error = max(user, u or 0), max(error, e or 0)
    return {"user": user, "error": error}


def _with_specs(flow: Any, node: Any) -> list[str]:
    """Decorators not written in the source: forwarded to every task with `--with`."""
    step = getattr(flow, node.name)
    specs = []
    for deco in [*step.decorators, *step.wrappers, *step.config_decorators]:
        if not deco.statically_defined and deco.inserted_by is None:
            specs.append(deco.make_decorator_spec())
    return specs


def _environment(decos: Iterable[Any]) -> dict[str, str]:
    """@environment acts in Metaflow's runtime, not in the task: the op sets these."""
    env: dict[str, str] = {}
    for deco in decos:
        if deco.name == "environment":
            env.update({str(k): str(v) for k, v in deco.attributes["vars"].items()})
    return env


def _step(flow: Any, node: Any) -> dict[str, Any]:
    decos = list(_step_decorators(flow, node))
    return {
        "name": node.name,
        "type": node.type,
        "next": list(node.out_funcs),
        "inFuncs": sorted(node.in_funcs),
        "splitParents": list(node.split_parents),
        "matchingJoin": node.matching_join,
        "foreachParam": node.foreach_param,
        "numParallel": int(node.num_parallel or 0)
        if isinstance(node.num_parallel, int)
        else 0,
        # An expression (`num_parallel=self.n`): the number is known only at run time.
        "parallel": bool(node.parallel_foreach),
        # Metaflow before 2.17 has no switch steps (nor these attributes).
        "switchCondition": getattr(node, "condition", None),
        "switchCases": [
            [str(k), v] for k, v in getattr(node, "switch_cases", {}).items()
        ],
        "decorators": [
            {
                "name": deco.name,
                "attributes": json_safe(dict(deco.attributes)),
                "staticallyDefined": bool(deco.statically_defined),
                "runtimeHooks": _runtime_hooks(deco),
            }
            for deco in decos
        ],
        "retries": _retries(flow.name, node, decos),
        "withSpecs": _with_specs(flow, node),
        "environment": _environment(decos),
        "timeoutSeconds": timeout_seconds(decos),
        "doc": node.doc or None,
        "sourceLine": node.func_lineno,
        **step_artifacts(flow, node.name),
    }


# Hooks Metaflow's own runtime (`python flow.py run`) calls around a task, outside it;
# a Dagster op runs the task's `step` command and calls none of them.
RUNTIME_HOOKS = ("runtime_init", "runtime_task_created", "runtime_step_cli")


def _runtime_hooks(deco: Any) -> list[str]:
    """The runtime hooks a step decorator implements (the compiler decides on them)."""
    from metaflow.decorators import StepDecorator

    return [
        hook
        for hook in RUNTIME_HOOKS
        if getattr(type(deco), hook, None) is not getattr(StepDecorator, hook)
    ]


def _top_level_args(obj: Any) -> list[str]:
    """The options Metaflow's own runtime gives every task (see its CLIArgs)."""
    from metaflow.decorators import flow_decorators

    options: dict[str, Any] = {
        "quiet": True,
        "metadata": obj.metadata.TYPE,
        "environment": obj.environment.TYPE,
        "datastore": obj.flow_datastore.TYPE,
        "event-logger": obj.event_logger.TYPE,
        "monitor": obj.monitor.TYPE,
    }
    for deco in flow_decorators(obj.flow):
        options.update(deco.get_top_level_options())
    args: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is True:
                args.append(f"--{key}")
            else:
                args.append(f"--{key}={item}")
    return args


def _explicit_datastore_root(obj: Any, cli_root: str | None) -> str | None:
    """A local root is resolved at run time unless the user chose one explicitly."""
    if obj.flow_datastore.TYPE != "local":
        return obj.flow_datastore.datastore_root
    from metaflow.metaflow_config import DATASTORE_SYSROOT_LOCAL

    if cli_root or DATASTORE_SYSROOT_LOCAL:
        # Resolved as Metaflow resolves it: METAFLOW_DATASTORE_SYSROOT_LOCAL=X means
        # X/.metaflow, while --datastore-root is taken as it is; a relative one from
        # here (tasks and ops run from elsewhere).
        return os.path.abspath(obj.flow_datastore.datastore_root)
    return None


def flow_ir(
    obj: Any,
    *,
    output_file: str,
    job_name: str | None,
    tags: Iterable[str],
    regenerate: list[str],
    datastore_root: str | None,
    workflow_timeout: int | None = None,
    max_num_splits: int | None = None,
    max_log_size: int | None = None,
) -> dict[str, Any]:
    """The IR of the flow in a Metaflow CLI context object (`ctx.obj`)."""
    from metaflow.util import get_username

    flow, graph = obj.flow, obj.graph
    flow_file = os.path.abspath(inspect.getfile(flow.__class__))
    out_dir = os.path.dirname(os.path.abspath(output_file))
    steps = [_step(flow, graph[name]) for name in graph.sorted_nodes]
    ir = {
        "irVersion": IR_VERSION,
        "generator": {"name": "metaflow-dagster", "version": __version__},
        "compiledWith": {
            "dagster": _version("dagster"),
            "metaflow": _version("metaflow"),
        },
        "flow": {
            "name": flow.name,
            "file": os.path.relpath(flow_file, out_dir).replace(os.sep, "/"),
            "doc": graph.doc or None,
            # Metaflow before 2.19 names them `start` and `end`, always.
            "startStep": getattr(graph, "start_step", "start"),
            "endStep": getattr(graph, "end_step", "end"),
        },
        "steps": steps,
        "parameters": parameters_ir(flow),
        "deploy": {
            # The compiler names the job (--name, else after this name).
            "jobName": job_name,
            "projectFlowName": project_flow_name(flow),
            "outputFile": os.path.basename(output_file),
            "regenerate": regenerate,
            "topLevelArgs": _top_level_args(obj),
            "datastoreRoot": _explicit_datastore_root(obj, datastore_root),
            "datastore": obj.flow_datastore.TYPE,
            "metadata": obj.metadata.TYPE,
            "tags": list(tags),
            "namespace": None,
            "owner": get_username(),
            "description": graph.doc or None,
            "workflowTimeout": workflow_timeout,
            "maxNumSplits": max_num_splits,
            "maxLogSize": max_log_size,
            "project": project_ir(flow),
            "configs": configs_ir(flow),
        },
        "automation": automation_ir(flow),
        "flowDecorators": [
            {
                "name": deco.name,
                "attributes": json_safe(dict(deco.attributes)),
                "staticallyDefined": bool(getattr(deco, "statically_defined", True)),
            }
            for name in sorted(flow._flow_decorators)
            for deco in flow._flow_decorators[name]
        ],
        "exitHooks": exit_hooks_ir(flow),
    }
    _refuse_unpassable_values(ir)
    return ir


# Longest single environment variable or argument Linux accepts (MAX_ARG_STRLEN).
_MAX_ARG_BYTES = 131072
# JavaScript's Number.MAX_SAFE_INTEGER.
_MAX_SAFE_INT = 2**53 - 1


def _has_unsafe_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > _MAX_SAFE_INT
    if isinstance(value, list):
        return any(_has_unsafe_int(v) for v in value)
    if isinstance(value, dict):
        return any(_has_unsafe_int(v) for v in value.values())
    return False


def _refuse_unpassable_values(ir: dict[str, Any]) -> None:
    """Values a Dagster run could never hand to Metaflow: refuse them at create time.

    Parameter values reach `init` and @environment values reach tasks as environment
    variables, and tags as arguments: none can hold a NUL byte or exceed the kernel's
    per-string limit. Metaflow's own runtime fails the same @environment values and tags
    (`python flow.py run`); a default it could use in-process would fail every run here.
    """
    flow = ir["flow"]["name"]
    problems: list[str] = []

    def check(what: str, text: str) -> None:
        if "\x00" in text:
            problems.append(f"{what} contains a NUL character")
        elif len(text.encode("utf-8", "surrogateescape")) >= _MAX_ARG_BYTES:
            problems.append(f"{what} is longer than {_MAX_ARG_BYTES - 1} bytes")

    for param in ir["parameters"]:
        default = param["default"]
        if param["hasDefault"] and isinstance(default, str) and param["type"] == "str":
            check(f"the default of parameter {param['name']!r}", default)
        if _has_unsafe_int(default):
            # The compiler is JavaScript: its numbers are doubles.
            problems.append(
                f"the default of parameter {param['name']!r} holds an integer beyond "
                f"+/-{_MAX_SAFE_INT}, which the compiler cannot carry exactly"
            )
    for step in ir["steps"]:
        for name, value in step["environment"].items():
            if not name or "=" in name or "\x00" in name:
                problems.append(
                    f"step {step['name']!r}: @environment variable name {name!r} is "
                    "not a valid environment variable name"
                )
            check(f"step {step['name']!r}: @environment variable {name!r}", value)
    from metaflow.exception import MetaflowTaggingError
    from metaflow.tagging_util import validate_tags

    try:
        validate_tags(ir["deploy"]["tags"])
    except MetaflowTaggingError as exc:
        problems.append(f"--tag: {exc.message}")
    for tag in ir["deploy"]["tags"]:
        check(f"--tag {tag[:40]!r}", tag)
    if problems:
        raise IntrospectionError(
            f"Flow {flow}: a Dagster run could not pass these values to Metaflow:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
