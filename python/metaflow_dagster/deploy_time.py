"""Decorators resolved at deploy time: @timeout, @project, @schedule, @trigger,
@trigger_on_finish, @exit_hook and Config values, for the flow IR (introspect.py).

Each is read the way Metaflow's own production schedulers (Argo Workflows, Step
Functions) read it, after the flow was initialised.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import IntrospectionError


def json_safe(value: Any) -> Any:
    """Decorator attributes as JSON; anything else is described by its repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    return repr(value)


def timeout_seconds(decos: Iterable[Any]) -> int | None:
    """The effective @timeout: seconds + 60 * minutes + 3600 * hours, in seconds."""
    for deco in decos:
        if deco.name == "timeout":
            secs = getattr(deco, "secs", None)
            if not isinstance(secs, int):
                a = deco.attributes
                secs = (
                    int(a["hours"]) * 3600 + int(a["minutes"]) * 60 + int(a["seconds"])
                )
            return secs if secs > 0 else None
    return None


def _flow_decorator(flow: Any, name: str) -> Any | None:
    found = flow._flow_decorators.get(name)
    return found[0] if found else None


def project_flow_name(flow: Any) -> str:
    """`<project>.<branch>.<Flow>` under @project (as Metaflow names deployments)."""
    from metaflow import current

    if _flow_decorator(flow, "project") is None:
        return flow.name
    return str(current.project_flow_name)


def project_ir(flow: Any) -> dict[str, Any] | None:
    from metaflow import current

    if _flow_decorator(flow, "project") is None:
        return None
    return {
        "name": current.project_name,
        "branch": current.branch_name,
        "flowName": current.project_flow_name,
        "production": bool(current.is_production),
        "userBranch": bool(current.is_user_branch),
    }


def configs_ir(flow: Any) -> dict[str, Any]:
    """Config values as resolved now; every task reads them as `kv.<name>` (runtime)."""
    from metaflow import Config

    try:
        from metaflow.flowspec import FlowStateItems as state_items
    except ImportError:  # Metaflow before 2.19.x names the enum _FlowState
        from metaflow.flowspec import _FlowState as state_items

    configs = flow._flow_state.get(state_items.CONFIGS) or {}
    # Config(plain=...) (Metaflow 2.19.x on) keeps each value as (value, plain); before
    # it, the value alone (runtime/process.py's _deploy_env writes either form).
    pairs = "plain" in inspect.signature(Config.__init__).parameters
    result = {}
    for name, entry in sorted(configs.items()):
        value, plain = entry if pairs else (entry, False)
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise IntrospectionError(
                f"Flow {flow.name}: the value of Config {name!r} is not "
                f"JSON-serialisable ({exc}); it cannot be baked into the job."
            ) from exc
        result[name] = {"json": text, "plain": bool(plain)}
    return result


def _schedule(flow: Any) -> dict[str, Any] | None:
    deco = _flow_decorator(flow, "schedule")
    if deco is None or getattr(deco, "schedule", None) is None:
        return None
    return {
        "expression": str(deco.schedule),
        "timezone": deco.timezone,
        "attributes": json_safe(dict(deco.attributes)),
    }


def _events(flow: Any) -> dict[str, Any] | None:
    deco = _flow_decorator(flow, "trigger")
    if deco is None:
        return None
    deco.format_deploytime_value()
    events = []
    for event in deco.triggers:
        parameters = event.get("parameters") or {}
        events.append(
            {
                "name": str(event["name"]),
                "parameters": {str(k): str(v) for k, v in parameters.items()},
            }
        )
    return {"events": events, "options": json_safe(dict(deco.options or {}))}


def _on_finish(flow: Any) -> dict[str, Any] | None:
    """Upstream flows, made @project aware like Argo Workflows does it."""
    from metaflow import current

    deco = _flow_decorator(flow, "trigger_on_finish")
    if deco is None:
        return None
    deco.format_deploytime_value()
    flows = []
    for trigger in deco.triggers:
        project = trigger.get("project") or current.get("project_name")
        branch = trigger.get("branch") or current.get("branch_name")
        if bool(project) != bool(branch):
            raise IntrospectionError(
                f"Flow {flow.name}: @trigger_on_finish on {trigger['flow']!r} has "
                "incomplete project information; give both 'project' and "
                "'project_branch', or use @project."
            )
        full = ".".join(v for v in (project, branch, trigger["flow"]) if v)
        flows.append(
            {
                "flow": trigger["flow"],
                "project": project or None,
                "branch": branch or None,
                "projectFlowName": full,
            }
        )
    return {"flows": flows, "options": json_safe(dict(deco.options or {}))}


def _hook_names(flow: Any, deco: Any, kind: str) -> list[str]:
    """A hook list as Metaflow's flow_init resolves it: names, or functions' names."""
    names = []
    for hook in deco.attributes[kind]:
        if isinstance(hook, str):
            names.append(hook)
        elif callable(hook):
            names.append(hook.__name__)
        else:
            raise IntrospectionError(
                f"Flow {flow.name}: @exit_hook {kind} holds {hook!r}, neither a "
                "function nor the name of one."
            )
    return names


def exit_hooks_ir(flow: Any) -> list[dict[str, Any]]:
    """Each @exit_hook: the functions Metaflow's runtime runs after the run."""
    return [
        {
            "onSuccess": _hook_names(flow, deco, "on_success"),
            "onError": _hook_names(flow, deco, "on_error"),
            "options": json_safe(dict(deco.attributes.get("options") or {})),
        }
        for deco in flow._flow_decorators.get("exit_hook", [])
    ]


def automation_ir(flow: Any) -> dict[str, Any]:
    return {
        "schedule": _schedule(flow),
        "events": _events(flow),
        "onFinish": _on_finish(flow),
    }
