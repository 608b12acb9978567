"""A flow's Parameters in the flow IR: their types, and their defaults as the values
`python flow.py run` gives the flow (converted by each parameter's own click type), or
a refusal naming flow and parameter where no Dagster run could start the flow so."""

from __future__ import annotations

import json
import math
from typing import Any

from metaflow.exception import MetaflowException

from .errors import IntrospectionError


def _parameter_type(flow_name: str, name: str, param: Any) -> str:
    from metaflow.includefile import FilePathClass
    from metaflow.parameters import JSONTypeClass

    kind = param.kwargs.get("type")
    if isinstance(kind, JSONTypeClass):
        return "json"
    if isinstance(kind, FilePathClass):
        # IncludeFile. As Metaflow's schedulers do at deploy time, evaluating its
        # default (below) stores the file in the datastore: the default is then that
        # snapshot's descriptor. A path given at launch is read and stored by `init`.
        return "file"
    for python_type, label in ((bool, "bool"), (int, "int"), (float, "float")):
        if kind is python_type:
            return label
    if kind is str or kind is None:
        return "str"
    raise IntrospectionError(
        f"Flow {flow_name}: parameter {name!r} has type {kind!r}, which the Dagster "
        "integration cannot pass yet (supported: str, int, float, bool, JSON, "
        "IncludeFile)."
    )


# The Python type a Dagster run's `init` converts each scalar parameter's text value to.
_SCALAR_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


def _json_inexact(value: Any) -> str | None:
    """Why `value` would not come back from a Dagster run as it is (None: it would).

    A Dagster run passes a JSON parameter to `init` as JSON text: what JSON cannot
    hold (tuples, sets, non-string keys) would reach the flow changed."""
    if value is None or type(value) in (bool, int, str, float):
        return None
    if type(value) is list:
        return next(filter(None, map(_json_inexact, value)), None)
    if type(value) is dict:
        for key, item in value.items():
            if not isinstance(key, str):
                return f"has the non-string key {key!r}, which JSON makes a string"
            reason = _json_inexact(item)
            if reason is not None:
                return reason
        return None
    return f"holds a {type(value).__name__}, which JSON does not have"


def _json_text_if_floats(value: Any) -> str | None:
    """A JSON default holding a whole float (1.0), as Python writes it as JSON; None if
    it holds none. The compiler runs on JavaScript, whose numbers cannot tell 1.0 from
    1, so such a default is carried as text and loaded by the generated file."""

    def whole_float(v: Any) -> bool:
        if type(v) is float:
            return math.isfinite(v) and v.is_integer()
        if isinstance(v, list):
            return any(map(whole_float, v))
        if isinstance(v, dict):
            return any(map(whole_float, v.values()))
        return False

    return json.dumps(value, allow_nan=False) if whole_float(value) else None


def _parameter_default(flow_name: str, param: Any, kind: str) -> Any:
    """The value `python flow.py run` gives the flow when no value is passed (None:
    none), evaluated now; a default that run would fail on is refused."""
    from metaflow._vendor import click
    from metaflow.parameters import DeployTimeField, deploy_time_eval

    if "default" not in param.kwargs:
        return None
    raw = param.kwargs["default"]
    if kind == "file":
        return deploy_time_eval(raw)
    what = f"Flow {flow_name}: the default of parameter {param.name!r}"
    native = "`python flow.py run` fails on this default as well"
    try:
        # A deploy-time function is evaluated now, as Metaflow's schedulers do, but
        # called as `run` calls it: Metaflow then checks the returned value against
        # the parameter's type (`run` wants a string for str and JSON parameters, where
        # a scheduler would JSON-encode anything), so what `run` refuses is refused.
        value = raw() if isinstance(raw, DeployTimeField) else raw
    except MetaflowException as exc:
        raise IntrospectionError(
            f"{what} cannot be evaluated ({native}):\n{exc.message}"
        ) from exc
    try:
        # Converted by the parameter's own click option, built as `run` builds it:
        # the Config field must hold the value itself (int 5 for default "5").
        option = click.Option(("--" + param.name,), **dict(param.kwargs, default=value))
        value = option.get_default(click.Context(click.Command(flow_name)))
    except click.BadParameter as exc:
        raise IntrospectionError(f"{what}: {exc.format_message()} ({native}).") from exc
    except Exception as exc:
        # Click lets some conversions crash: a bool parameter's int default raises
        # AttributeError (`1.lower()`), as `run` does.
        raise IntrospectionError(
            f"{what} cannot be converted to {kind} ({native}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    expected = _SCALAR_TYPES.get(kind)
    if value is not None and expected is not None and type(value) is not expected:
        # Click's str type passes a non-string default through unconverted: `run`
        # hands the flow the int 32 itself, while a Dagster run passes values to
        # `init` as text, which Metaflow turns into the string "32".
        raise IntrospectionError(
            f"{what} is {value!r} ({type(value).__name__}): `python flow.py run` "
            f"gives the flow that {type(value).__name__} unconverted, but a Dagster "
            f"run passes parameter values to Metaflow as text and would give it a "
            f"{kind}; write the default as a {kind}."
        )
    reason = _json_inexact(value) if kind == "json" else None
    if reason is not None:
        raise IntrospectionError(
            f"{what} {reason}: `python flow.py run` gives the flow the default as it "
            "is, but a Dagster run cannot."
        )
    return value


def parameters_ir(flow: Any) -> list[dict[str, Any]]:
    result = []
    for attribute, param in flow._get_parameters():
        if getattr(param, "IS_CONFIG_PARAMETER", False):
            continue
        kind = _parameter_type(flow.name, param.name, param)
        has_default = "default" in param.kwargs
        default = _parameter_default(flow.name, param, kind)
        try:
            json.dumps(default, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise IntrospectionError(
                f"Flow {flow.name}: the default of parameter {param.name!r} is not "
                f"JSON-serialisable ({exc})."
            ) from exc
        help_text = param.kwargs.get("help")
        result.append(
            {
                "name": param.name,
                "attribute": attribute,
                "type": kind,
                "required": bool(param.kwargs.get("required", False)),
                "hasDefault": has_default and default is not None,
                "default": default,
                "defaultText": _json_text_if_floats(default)
                if kind == "json"
                else None,
                "help": str(help_text) if help_text is not None else None,
                "separator": param.separator,
            }
        )
    return result
