"""Parameter defaults: the Config field holds the value `python flow.py run` gives the
flow when no value is passed (converted by the parameter's click type, deploy-time
functions evaluated at create), and a default no Dagster run could start the flow with
is refused at create, naming flow and parameter, with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import (
    artifacts,
    compile_flow,
    copy_flow,
    create,
    multiprocess_run,
    native_run,
    read_run,
    run_cli,
    run_pathspec,
)

# What `python flow.py run` gives CoercedDefaultsFlow: [type name, repr] by attribute.
NATIVE_DEFAULTS = {
    "n_fn": ["int", "124"],
    "b_fn": ["bool", "True"],
    "f_fn": ["float", "2.5"],
    "s_fn": ["str", "'s-fn'"],
    "untyped_fn": ["str", "'plain'"],
    "j_fn": ["dict", "{'k': [1, 2.5]}"],
    "n_str": ["int", "5"],
    "n_float": ["int", "5"],
    "n_bool": ["int", "1"],
    "b_yes": ["bool", "True"],
    "b_zero": ["bool", "False"],
    "f_int": ["float", "1.0"],
    "f_str": ["float", "1.5"],
    "s_bytes": ["str", "'raw'"],
    "j_text": ["str", "'just a string'"],
    "j_null": ["NoneType", "None"],
    "j_obj": ["dict", "{'a': [1, None]}"],
    "j_floats": ["dict", "{'lr': 1.0, 'w': [2.0, 3]}"],
    "listed": ["list", "['a', 'b', 'c']"],
}


def seen(flow_dir: Path, pathspec: str) -> dict[str, list[str]]:
    return artifacts(read_run(flow_dir, pathspec), "start")[0]["seen"]


def test_converted_defaults_load_and_reach_the_flow_as_natively(
    flow_dir: Path, tmp_path: Path
) -> None:
    flow, module = compile_flow("coerced_defaults_flow.py", flow_dir)
    native = seen(flow_dir, native_run(flow))
    assert native == NATIVE_DEFAULTS
    # The module loaded: every default is a value of its field's type.
    fields = module.StartConfig.model_fields
    assert fields["n_fn"].default == 124
    assert fields["n_str"].default == 5
    assert fields["b_yes"].default is True
    assert fields["s_bytes"].default == "raw"
    assert fields["j_fn"].default == {"k": [1, 2.5]}
    assert repr(fields["j_floats"].default) == "{'lr': 1.0, 'w': [2.0, 3]}"
    # A run with no values, in-process and as `dagster dev` runs it.
    result = module.CoercedDefaultsFlow.execute_in_process()
    assert result.success
    assert seen(flow_dir, run_pathspec(result)) == native
    outcome = multiprocess_run(flow_dir / "defs.py", "CoercedDefaultsFlow", tmp_path)
    assert outcome["success"], outcome["failures"]
    assert seen(flow_dir, f"CoercedDefaultsFlow/dagster-{outcome['run_id']}") == native


def test_values_given_replace_deploy_time_defaults_as_natively(flow_dir: Path) -> None:
    flow, module = compile_flow("coerced_defaults_flow.py", flow_dir)
    given = {"n-fn": 7, "b-fn": False, "s-fn": "given", "j-fn": {"x": None}}
    result = module.CoercedDefaultsFlow.execute_in_process(
        run_config={"ops": {"op_start": {"config": given}}}
    )
    assert result.success
    ours = seen(flow_dir, run_pathspec(result))
    args = ["--n-fn=7", "--b-fn=false", "--s-fn=given", '--j-fn={"x": null}']
    native = seen(flow_dir, native_run(flow, *args))
    assert ours == native
    assert native["n_fn"] == ["int", "7"]
    assert native["j_fn"] == ["dict", "{'x': None}"]
    assert native["n_str"] == ["int", "5"]


# Defaults `python flow.py run` fails on: (case, what both we and Metaflow say).
NATIVE_FAILS = [
    ("int-text", "x is not a valid integer"),
    ("bool-text", "maybe is not a valid boolean"),
    ("bool-int", "'int' object has no attribute 'lower'"),
    ("json-text", "{not json is not a valid JSON object"),
    ("fn-raises", "no default today"),
    ("int-fn-none", "has a wrong type. Expected a int."),
    ("str-fn-none", "has a wrong type. Expected a string."),
    ("bool-fn-int", "has a wrong type. Expected a bool."),
    ("str-fn-int", "has a wrong type. Expected a string."),
    ("json-fn-dict", "has a wrong type. Expected a string."),
]

# Defaults `run` gives the flow as they are: (case, native [type, repr], our reason).
DAGSTER_CANNOT = [
    ("str-int", ["int", "32"], "is 32 (int)"),
    ("json-tuple", ["tuple", "(1, 2)"], "holds a tuple"),
    ("json-int-key", ["dict", "{1: 'a'}"], "has the non-string key 1"),
    ("float-nan", ["float", "nan"], "is not JSON-serialisable"),
    ("choice", ["str", "'b'"], "which the Dagster integration cannot pass"),
]


def refused(flow_dir: Path, case: str) -> str:
    flow = copy_flow("bad_default_flow.py", flow_dir)
    proc = create(flow, "defs.py", env={"BAD_DEFAULT": case}, check=False)
    assert proc.returncode != 0, proc.stdout
    assert not (flow_dir / "defs.py").exists()
    text = " ".join(proc.stderr.split())
    assert "Cannot compile this flow for Dagster" in text, proc.stderr
    assert f"Flow BadDefaultFlow: the default of parameter '{case}'" in text or (
        f"Flow BadDefaultFlow: parameter '{case}'" in text
    ), proc.stderr
    return text


@pytest.mark.parametrize(("case", "reason"), NATIVE_FAILS)
def test_a_default_run_fails_on_is_refused(
    flow_dir: Path, case: str, reason: str
) -> None:
    text = refused(flow_dir, case)
    assert reason in text
    assert "`python flow.py run` fails on this default as well" in text
    native = run_cli(
        ["bad_default_flow.py", "run"],
        cwd=flow_dir,
        env={"BAD_DEFAULT": case},
        check=False,
    )
    assert native.returncode != 0
    assert reason in " ".join((native.stdout + native.stderr).split())


@pytest.mark.parametrize(("case", "value", "reason"), DAGSTER_CANNOT)
def test_a_default_a_dagster_run_cannot_carry_is_refused(
    flow_dir: Path, case: str, value: list[str], reason: str
) -> None:
    text = refused(flow_dir, case)
    assert reason in text
    run_id_file = flow_dir / "run-id"
    run_cli(
        ["bad_default_flow.py", "run", "--run-id-file", str(run_id_file)],
        cwd=flow_dir,
        env={"BAD_DEFAULT": case},
    )
    pathspec = f"BadDefaultFlow/{run_id_file.read_text().strip()}"
    assert artifacts(read_run(flow_dir, pathspec), "start")[0]["seen"] == value


def test_deploy_time_functions_see_the_context_argo_gives_them(
    flow_dir: Path, tmp_path: Path
) -> None:
    """`default=lambda ctx: 124` (Metaflow's own tests) for each type: the Config field
    holds the value, typed, and the file loads. A function reads the ParameterContext
    Metaflow's CLI sets before any command, `run` or `argo-workflows create` alike
    (parameters.set_parameter_context): the flow's class name, the user, the
    parameter's name. Argo evaluates it at deploy time, as `create` does; `run` at run
    time, here with the same user, so the flow sees the same values."""
    flow, module = compile_flow("deploy_context_flow.py", flow_dir)
    fields = module.StartConfig.model_fields
    context = {
        "flow_name": "DeployContextFlow",
        "user_name": "tester",
        "parameter_name": "context",
    }
    assert fields["x"].default == 124 and fields["x"].annotation is int
    assert fields["flag"].default is True and fields["flag"].annotation is bool
    assert fields["ratio"].default == 0.5 and fields["ratio"].annotation is float
    assert fields["text"].default == "124" and fields["text"].annotation is str
    assert fields["blob"].default == {"a": [1, 2]}
    assert fields["context"].default == context
    assert json.loads(fields["context_text"].default) == {
        **context,
        "parameter_name": "context-text",
    }
    native = seen(flow_dir, native_run(flow))
    assert native["x"] == ["int", "124"]
    assert native["flag"] == ["bool", "True"]
    assert native["ratio"] == ["float", "0.5"]
    assert native["text"] == ["str", "'124'"]
    assert native["blob"] == ["dict", "{'a': [1, 2]}"]
    assert native["context"] == ["dict", repr(context)]
    result = module.DeployContextFlow.execute_in_process()
    assert result.success
    assert seen(flow_dir, run_pathspec(result)) == native
    outcome = multiprocess_run(flow_dir / "defs.py", "DeployContextFlow", tmp_path)
    assert outcome["success"], outcome["failures"]
    assert seen(flow_dir, f"DeployContextFlow/dagster-{outcome['run_id']}") == native
