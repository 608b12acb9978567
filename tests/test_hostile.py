"""Hostile input, compiled and run: names Python, Dagster or pydantic treat specially,
values that break naive quoting, secrets in the environment of `create`, and a seeded
fuzzer. Every value must reach the flow unchanged (read back with the Metaflow client
and compared with the test's own value or a native `python flow.py run`), or `create`
must refuse it with a clear error and write nothing.

Real Metaflow, real Dagster. `FUZZ_FLOWS=<n>` fuzzes more flows (default 3).
"""

from __future__ import annotations

import json
import keyword
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import (
    FLOWS,
    REPO,
    artifacts,
    create,
    load_module,
    native_run,
    read_run,
    run_pathspec,
)
from metaflow_dagster.runtime.dagster_adapter import DISALLOWED_NAMES, VALID_NAME_REGEX

HOSTILE = FLOWS / "hostile"
RUFF = os.environ.get("RUFF", str(REPO / ".venv" / "bin" / "ruff"))


def copy_hostile(name: str, folder: Path) -> Path:
    target = folder / name
    shutil.copy(HOSTILE / name, target)
    return target


def compile_hostile(
    name: str, folder: Path, *options: str, env: dict[str, str] | None = None
) -> tuple[Path, ModuleType]:
    flow = copy_hostile(name, folder)
    create(flow, "defs.py", *options, env=env)
    return flow, load_module(folder / "defs.py")


def start_config(config: dict[str, Any]) -> dict[str, Any]:
    return {"ops": {"op_start": {"config": config}}}


def failure_messages(result: Any) -> list[str]:
    return [
        f"{e.step_key}: {e.event_specific_data.error.message}"
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]


def assert_success(result: Any) -> None:
    assert result.success, "\n".join(failure_messages(result))


def ruff_pyflakes(path: Path) -> None:
    """Undefined names, redefinitions and shadowed imports in a generated file."""
    proc = subprocess.run(
        [RUFF, "check", "--isolated", "--select", "F", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def assert_dagster_names_valid(job: Any) -> None:
    """Every op, input and output name passes Dagster's own name rules."""
    for node in job.graph.nodes:
        definition = node.definition
        names = [definition.name]
        names += [i.name for i in definition.input_defs]
        names += [o.name for o in definition.output_defs]
        for name in names:
            assert VALID_NAME_REGEX.match(name), name
            assert name not in DISALLOWED_NAMES, name


# ---------------------------------------------------------------------------------
# Names


HOSTILE_NAME_VALUES = {
    "config": "C! {config}",
    "class": "K'\"",
    "type": 42,
    "My-Param": "mixed\ncase",
    "with-dash": 2.5,
    "context": True,
    "model_config": "pydantic's own",
    "json": {"n": None, "x": [1, None, {"y": None}]},
}

HOSTILE_TRAIL = [
    "start",
    "type",
    "config",
    "match",
    "context",
    "op_start",
    "meta",
    "conf",
    "output",
    "job",
    "run_step",
]


def test_hostile_step_and_parameter_names_compile_and_run(flow_dir: Path) -> None:
    """Steps named `type`, `config`, `match`, `context`, `op_start`, `meta`, `output`,
    `print`, `case`...; parameters named `config`, `class`, `type`, `My-Param`..."""
    _, module = compile_hostile("hostile_names_flow.py", flow_dir)
    ruff_pyflakes(flow_dir / "defs.py")
    job = module.HostileNamesFlow
    assert_dagster_names_valid(job)
    # One op per step, none merged: 18 steps, 18 distinct ops.
    assert len({node.name for node in job.graph.nodes}) == 18
    result = job.execute_in_process(run_config=start_config(HOSTILE_NAME_VALUES))
    assert_success(result)
    run = read_run(flow_dir, run_pathspec(result))
    assert run["successful"] is True
    assert artifacts(run, "start")[0]["seen"] == HOSTILE_NAME_VALUES
    [end] = artifacts(run, "end")
    trail = sorted([*HOSTILE_TRAIL, *HOSTILE_TRAIL, "defs:a", "defs:b"])
    trail += ["input_arg_dict", "case", "print", "end"]
    assert end["trail"] == trail


def test_config_fields_named_like_the_config_class_body_uses(flow_dir: Path) -> None:
    """Parameter attributes `Field` and `Any` must not shadow what the generated
    Config class calls on later lines."""
    _, module = compile_hostile("hostile_fields_flow.py", flow_dir)
    ruff_pyflakes(flow_dir / "defs.py")
    values = {"Field": "F!", "Any": {"k": [None]}, "after": "A!"}
    result = module.HostileFieldsFlow.execute_in_process(
        run_config=start_config(values)
    )
    assert_success(result)
    run = read_run(flow_dir, run_pathspec(result))
    assert artifacts(run, "start")[0]["seen"] == values


def test_switch_branches_with_dagster_reserved_names(flow_dir: Path) -> None:
    """Branch steps `output` and `meta` (Dagster reserves both as output names),
    converging on a step named `started`, which the switch start also reaches directly:
    the start op's own guard output has that name too."""
    _, module = compile_hostile("hostile_switch_flow.py", flow_dir)
    job = module.HostileSwitchFlow
    assert_dagster_names_valid(job)
    start_outputs = {o.name for o in module.op_start.output_defs}
    assert "started" in start_outputs and len(start_outputs) == 4
    for way in ("output", "meta", "started"):
        result = job.execute_in_process(run_config=start_config({"way": way}))
        assert_success(result)
        run = read_run(flow_dir, run_pathspec(result))
        assert run["successful"] is True
        if way == "started":
            assert set(run["steps"]) == {"start", "started", "end"}
        else:
            assert artifacts(run, way)[0]["took"] == way
            assert set(run["steps"]) == {"start", way, "started", "end"}


def test_non_ascii_flow_class_gives_a_valid_job_name(flow_dir: Path) -> None:
    """Metaflow accepts any Python identifier as a flow class name."""
    _, module = compile_hostile("unicode_flow.py", flow_dir)
    job = module.Flüsse_Ωmega
    assert VALID_NAME_REGEX.match(job.name), job.name
    assert job.name not in DISALLOWED_NAMES
    assert module.defs.get_job_def(job.name) is job
    result = job.execute_in_process(run_config=start_config({"wört": "ÄÖÜ ß 🚀"}))
    assert_success(result)
    pathspec = run_pathspec(result)
    assert pathspec.startswith("Flüsse_Ωmega/")
    run = read_run(flow_dir, pathspec)
    assert artifacts(run, "start")[0]["seen"] == "ÄÖÜ ß 🚀"


def test_job_names_of_different_non_ascii_flows_stay_distinct(flow_dir: Path) -> None:
    """`Flüsse_Ωmega` and `Flösse_Ωmega` both sanitise to `Fl_sse__mega`: the stable
    hash of the original name keeps them two jobs, each of which runs."""
    from metaflow_dagster.compiler import job_name

    source = (HOSTILE / "unicode_flow.py").read_text()
    jobs = {}
    for index, name in enumerate(["Flüsse_Ωmega", "Flösse_Ωmega"]):
        flow = flow_dir / f"unicode_{index}_flow.py"
        flow.write_text(source.replace("Flüsse_Ωmega", name))
        create(flow, f"defs_{index}.py")
        jobs[name] = getattr(load_module(flow_dir / f"defs_{index}.py"), name)
    names = [job.name for job in jobs.values()]
    assert len(set(names)) == 2, names
    for name, job in jobs.items():
        assert VALID_NAME_REGEX.match(job.name), job.name
        assert job.name not in DISALLOWED_NAMES
        # The name `trigger` looks the job up by without its file (cli_runs).
        assert job.name == job_name(name)
        result = job.execute_in_process(run_config=start_config({"wört": name}))
        assert_success(result)
        pathspec = run_pathspec(result)
        assert pathspec.startswith(f"{name}/")
        run = read_run(flow_dir, pathspec)
        assert artifacts(run, "start")[0]["seen"] == name


# Two 238-character step names sharing a 236-character prefix (long_names_flow.py).
LONG_STEPS = [f"s{'_x' * 117}_{side}_" for side in ("a", "b")]


def test_long_step_names_give_distinct_usable_op_names(
    flow_dir: Path, tmp_path: Path
) -> None:
    """Under Dagster's multiprocess executor, whose filesystem IO manager stores each
    output in a directory named after its op (255 bytes at most). (Other executors
    keep outputs in the run's event log.)"""
    from dagster import DagsterInstance, execute_job
    from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

    assert [len(s) for s in LONG_STEPS] == [238, 238]
    assert LONG_STEPS[0][:236] == LONG_STEPS[1][:236]
    options = ("--executor", "multiprocess")
    _, module = compile_hostile("long_names_flow.py", flow_dir, *options)
    job = module.LongNamesFlow
    assert_dagster_names_valid(job)
    ops = {node.name for node in job.graph.nodes}
    assert len(ops) == 5, ops
    long_ops = ops - {"op_start", "op_join", "op_end"}
    assert len(long_ops) == 2
    assert all(len(op.encode()) <= 200 for op in long_ops), long_ops
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        recon = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "LongNamesFlow")
        with execute_job(recon, instance=instance, raise_on_error=False) as result:
            assert_success(result)
            pathspec = run_pathspec(result)
            run_id = result.run_id
    # Every op's output went through the filesystem IO manager, under its own name.
    stored = {p.name for p in (home / "storage" / run_id).iterdir() if p.is_dir()}
    assert ops <= stored, ops - stored
    run = read_run(flow_dir, pathspec)
    assert run["successful"] is True
    assert [artifacts(run, s)[0]["side"] for s in LONG_STEPS] == ["a", "b"]
    assert artifacts(run, "join")[0]["sides"] == ["a", "b"]


def test_flow_class_named_like_a_builtin_is_refused(flow_dir: Path) -> None:
    """`class sorted(FlowSpec)` runs natively; as a module attribute of the generated
    file it would shadow the builtin its runtime calls, so create refuses it."""
    flow = copy_hostile("builtin_class_flow.py", flow_dir)
    (flow_dir / "defs.py").write_text("# keep me\n")
    proc = create(flow, "defs.py", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "sorted" in out and "builtin" in out and "rename the flow class" in out
    assert (flow_dir / "defs.py").read_text() == "# keep me\n"


def test_parameters_metaflow_cannot_tell_apart_are_refused(flow_dir: Path) -> None:
    """`a-b` and `a_b` both read METAFLOW_INIT_A_B (natively one silently wins)."""
    source = (HOSTILE / "unpassable_flow.py").read_text()
    source = source.replace('default="a\\x00b"', 'default="fine"')
    source = source.replace('"x\\x00y"', '"fine"')
    flow = flow_dir / "unpassable_flow.py"
    flow.write_text(source)
    proc = create(flow, "defs.py", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "UnpassableFlow" in out and "'a-b'" in out and "'a_b'" in out
    assert not (flow_dir / "defs.py").exists()


def test_parameter_attributes_named_like_other_parameters(flow_dir: Path) -> None:
    """`a = Parameter("b")`, `b = Parameter("a")`: values go by name, never swapped."""
    flow, module = compile_hostile("swapped_names_flow.py", flow_dir)
    given = {"a": "given to a", "b": "given to b"}
    result = module.SwappedNamesFlow.execute_in_process(run_config=start_config(given))
    assert_success(result)
    ours = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
    assert ours == given
    native = artifacts(
        read_run(flow_dir, native_run(flow, "--a", "given to a", "--b", "given to b")),
        "start",
    )[0]["seen"]
    assert native == given


def test_integers_beyond_double_precision_are_exact_or_refused(flow_dir: Path) -> None:
    """Defaults travel through the (JavaScript) compiler: 2**53 + 1 must not become
    2**53 or a float. Given at launch, big integers reach the flow exactly."""
    flow = copy_hostile("big_int_flow.py", flow_dir)
    proc = create(flow, "defs.py", check=False)
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        assert "BigIntFlow" in out and "'big'" in out and "'nested'" in out, out
        assert not (flow_dir / "defs.py").exists()
        # Refused defaults; the same flow with small defaults takes big values.
        source = flow.read_text().replace("2**53 + 1", "1")
        flow.write_text(source.replace("12345678901234567891", "1"))
        create(flow, "defs.py")
    else:
        module = load_module(flow_dir / "defs.py")
        result = module.BigIntFlow.execute_in_process()
        assert_success(result)
        seen = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
        assert seen == {"big": 2**53 + 1, "nested": {"id": 12345678901234567891}}
    module = load_module(flow_dir / "defs.py")
    given = {"big": 2**63 + 7, "nested": {"id": -(2**70) - 1}}
    result = module.BigIntFlow.execute_in_process(run_config=start_config(given))
    assert_success(result)
    seen = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
    assert seen == given


# ---------------------------------------------------------------------------------
# Values


def native_values(flow: Path, *args: str) -> dict[str, Any]:
    pathspec = native_run(flow, *args)
    return artifacts(read_run(flow.parent, pathspec), "start")[0]


def test_hostile_defaults_and_environment_match_a_native_run(flow_dir: Path) -> None:
    """Quotes, backslashes, newlines, `\"\"\"`, `{}`, unicode, 10k characters, None
    defaults and nested JSON nulls, as defaults and as @environment values."""
    flow, module = compile_hostile("hostile_values_flow.py", flow_dir)
    ruff_pyflakes(flow_dir / "defs.py")
    result = module.HostileValuesFlow.execute_in_process()
    assert_success(result)
    ours = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]
    native = native_values(flow)
    assert ours["seen"] == native["seen"]
    assert ours["env_seen"] == native["env_seen"]
    # And against values computed here, independently of both runs.
    sys.path.insert(0, str(flow_dir))
    try:
        constants = load_module(flow)
    finally:
        sys.path.remove(str(flow_dir))
    assert len(ours["seen"]["long"]) == 10_000
    assert ours["seen"]["long"] == constants.LONG
    assert ours["seen"]["quotes"] == constants.QUOTES
    assert ours["seen"]["blob"] == json.loads(constants.BLOB)
    assert ours["seen"]["none_str"] is None
    assert ours["seen"]["none_json"] is None
    assert ours["seen"]["none_int"] is None
    assert ours["env_seen"] == {k: str(v) for k, v in constants.ENV.items()}


HOSTILE_GIVEN = {
    "quotes": "\"\"\" ''' \\\" \\' `",
    "backslash": "\\\\server\\share\\",
    "newlines": "\n\nstarts and ends with newlines\n",
    "braces": "{{}} %(x)s {0!r} $((1+1))",
    "unicode": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u0301 \U0010fffd",
    "long": "€" * 10_000,
    "none-str": " leading and trailing spaces ",
    "none_int": -(2**53),
    "NoneJson": {"deep": [[[None]]], "q": '"', "b": "\\"},
    "blob": [None, {"a": None}, "ü"],
    "number": 0,
    "ratio": -0.0,
    "flag": False,
}


def test_hostile_values_given_at_launch_match_a_native_run(flow_dir: Path) -> None:
    flow, module = compile_hostile("hostile_values_flow.py", flow_dir)
    result = module.HostileValuesFlow.execute_in_process(
        run_config=start_config(HOSTILE_GIVEN)
    )
    assert_success(result)
    ours = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
    args: list[str] = []
    for name, value in HOSTILE_GIVEN.items():
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        args += [f"--{name}", text]
    native = native_values(flow, *args)["seen"]
    assert ours == native
    attrs = {"none-str": "none_str", "NoneJson": "none_json"}
    expected = {attrs.get(k, k): v for k, v in HOSTILE_GIVEN.items()}
    assert ours == expected


def test_values_no_environment_can_carry_fail_naming_the_parameter(
    flow_dir: Path,
) -> None:
    """Metaflow hands parameter values to `init` in environment variables: a NUL, or a
    value over Linux's 128 KiB per-string limit, fails the run at the start op with the
    parameter named. Values just under the limit, and a NUL inside a JSON value (which
    JSON escapes), reach the flow unchanged."""
    _, module = compile_hostile("hostile_values_flow.py", flow_dir)
    cases = {
        "quotes": ("a\0b", "contains a NUL character"),
        "long": ("x" * (128 * 1024), f"is {128 * 1024} bytes long"),
        "unicode": ("€" * 44_000, f"is {3 * 44_000} bytes long"),
    }
    for name, (value, why) in cases.items():
        result = module.HostileValuesFlow.execute_in_process(
            run_config=start_config({name: value}), raise_on_error=False
        )
        assert not result.success
        [message] = failure_messages(result)
        assert message.startswith("op_start: "), message
        assert f"Parameter {name!r} of HostileValuesFlow: the value {why}" in message
        assert "op_end" not in {
            e.step_key for e in result.all_events if e.event_type_value == "STEP_START"
        }
    # The largest value that fits: "METAFLOW_INIT_LONG=" + value + NUL = 128 KiB.
    largest = "y" * (128 * 1024 - len("METAFLOW_INIT_LONG=") - 1)
    given = {"long": largest, "NoneJson": {"nul": "a\0b"}}
    result = module.HostileValuesFlow.execute_in_process(run_config=start_config(given))
    assert_success(result)
    seen = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
    assert seen["long"] == largest
    assert seen["none_json"] == {"nul": "a\0b"}


def test_empty_string_value_matches_a_native_run(flow_dir: Path) -> None:
    """`python flow.py run --quotes ''` gives the flow '' (not the default)."""
    flow, module = compile_hostile("hostile_values_flow.py", flow_dir)
    given = {"quotes": "", "none-str": ""}
    result = module.HostileValuesFlow.execute_in_process(run_config=start_config(given))
    assert_success(result)
    ours = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
    native = native_values(flow, "--quotes", "", "--none-str", "")["seen"]
    assert native["quotes"] == "" and native["none_str"] == ""
    assert ours["quotes"] == native["quotes"]
    assert ours["none_str"] == native["none_str"]


def test_json_parameters_whose_defaults_are_json_strings(flow_dir: Path) -> None:
    """`default='"just text"'` is the JSON string "just text" (natively too)."""
    flow, module = compile_hostile("json_text_flow.py", flow_dir)
    result = module.JsonTextFlow.execute_in_process(raise_on_error=False)
    assert_success(result)
    ours = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
    native = native_values(flow)["seen"]
    assert native == {
        "text": "just text",
        "braces": "{not: an object}",
        "number": 5,
        "nulls": [None, {"a": None}],
    }
    assert ours == native


def test_help_texts_reach_the_launchpad_unchanged(flow_dir: Path) -> None:
    flow, module = compile_hostile("hostile_values_flow.py", flow_dir)
    sys.path.insert(0, str(flow_dir))
    try:
        constants = load_module(flow)
    finally:
        sys.path.remove(str(flow_dir))
    op_def = module.HostileValuesFlow.graph.node_named("op_start").definition
    fields = op_def.config_schema.config_type.fields
    assert fields["quotes"].description == constants.HELP
    assert fields["backslash"].description == constants.QUOTES
    assert fields["newlines"].description == constants.NEWLINES
    assert fields["long"].description == constants.LONG
    assert fields["unicode"].description == constants.UNICODE
    assert fields["quotes"].default_value == constants.QUOTES


def test_values_metaflow_cannot_pass_are_refused_at_create(flow_dir: Path) -> None:
    """A NUL byte in a default or an @environment value, and a tag Metaflow refuses
    (`python flow.py run --tag <501 chars>` fails): create refuses, naming each."""
    flow = copy_hostile("unpassable_flow.py", flow_dir)
    (flow_dir / "defs.py").write_text("# keep me\n")
    proc = create(flow, "defs.py", "--tag", "t" * 501, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "UnpassableFlow" in out
    assert "parameter 'nul'" in out and "NUL" in out
    assert "'BAD'" in out and "step 'start'" in out
    assert "Tag is too long" in out
    assert (flow_dir / "defs.py").read_text() == "# keep me\n"
    assert sorted(p.name for p in flow_dir.iterdir() if p.name != ".metaflow") == [
        "defs.py",
        "unpassable_flow.py",
    ]


HOSTILE_TAGS = [
    'quote " and \' and """',
    "back\\slash",
    "new\nline",
    "{} {0} %s $HOME",
    "ünïcode 🚀",
    "-starts-with-a-dash",
    "--looks-like-an-option",
    "key:value:more",
    "x" * 500,
]


def test_hostile_tags_reach_the_run_as_natively(flow_dir: Path) -> None:
    tag_args = [a for tag in HOSTILE_TAGS for a in ("--tag", tag)]
    flow, module = compile_hostile("unicode_flow.py", flow_dir, *tag_args)
    result = module.Flüsse_Ωmega.execute_in_process()
    assert_success(result)
    ours = read_run(flow_dir, run_pathspec(result))["tags"]
    native = read_run(flow_dir, native_run(flow, *tag_args))["tags"]
    for tag in HOSTILE_TAGS:
        assert tag in ours
    user_tags = sorted(t for t in ours if t in HOSTILE_TAGS)
    assert user_tags == sorted(t for t in native if t in HOSTILE_TAGS)


# ---------------------------------------------------------------------------------
# Secrets


SECRETS = {
    "METAFLOW_SERVICE_HEADERS": '{"x-api-key": "sEcReT-header-3f9a1c"}',
    "METAFLOW_SERVICE_AUTH_KEY": "sEcReT-auth-key-77e0b2",
    "AWS_ACCESS_KEY_ID": "AKIASECRETKEYID51234",
    "AWS_SECRET_ACCESS_KEY": "sEcReT-aws-secret-0c4d88e1",
    "AWS_SESSION_TOKEN": "sEcReT-session-token-a1b2c3",
    "GITHUB_TOKEN": "ghp_sEcReTgithubtoken0000000000000000",
    "METAFLOW_DEFAULT_SECRETS_ROLE": "arn:aws:iam::123:role/sEcReT-role-9d8e",
    "METAFLOW_KUBERNETES_SECRETS": "sEcReT-k8s-secret-name",
    "METAFLOW_ARGO_EVENTS_WEBHOOK_AUTH": "sEcReT-webhook-auth",
    "DAGSTER_CLOUD_API_TOKEN": "sEcReT-dagster-cloud-token",
    "DATABASE_URL": "postgresql://u:sEcReT-db-pass@db.example/x",
}


def test_nothing_secret_is_baked_into_the_generated_file(flow_dir: Path) -> None:
    flow = copy_hostile("hostile_values_flow.py", flow_dir)
    create(flow, "defs.py", "--tag", "visible-tag", env=SECRETS)
    text = (flow_dir / "defs.py").read_text()
    assert "visible-tag" in text
    for name, value in SECRETS.items():
        fragments = {value} | set(re.findall(r"sEcReT[-\w]*", value))
        for fragment in fragments:
            assert fragment not in text, f"{name} leaked into the generated file"
            assert json.dumps(fragment)[1:-1] not in text, name
    # The file still runs in an environment without them.
    module = load_module(flow_dir / "defs.py")
    assert_success(module.HostileValuesFlow.execute_in_process())


# ---------------------------------------------------------------------------------
# Refusals at compile time


def test_remote_compute_added_with_with_is_refused_naming_every_step(
    flow_dir: Path,
) -> None:
    """`create --with kubernetes` on a cloud datastore: every step named, no file."""
    flow = copy_hostile("hostile_switch_flow.py", flow_dir)
    (flow_dir / "defs.py").write_text("# keep me\n")
    top = ("--datastore=s3", "--datastore-root=s3://bucket/prefix")
    proc = create(flow, "defs.py", "--with", "kubernetes", top=top, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "HostileSwitchFlow" in out and "@kubernetes" in out
    for step in ("start", "output", "meta", "started", "end"):
        assert f"'{step}'" in out, step
    assert (flow_dir / "defs.py").read_text() == "# keep me\n"


def test_batch_decorator_is_refused_naming_flow_step_and_decorator(
    flow_dir: Path,
) -> None:
    source = (HOSTILE / "hostile_switch_flow.py").read_text()
    source = source.replace(
        "from metaflow import FlowSpec, Parameter, step",
        "from metaflow import FlowSpec, Parameter, batch, step",
    )
    source = source.replace(
        "    @step\n    def meta(self):",
        "    @batch(cpu=2)\n    @step\n    def meta(self):",
    )
    flow = flow_dir / "hostile_switch_flow.py"
    flow.write_text(source)
    top = ("--datastore=s3", "--datastore-root=s3://bucket/prefix")
    proc = create(flow, "defs.py", top=top, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "HostileSwitchFlow" in out and "'meta'" in out and "@batch" in out
    assert not (flow_dir / "defs.py").exists()


# ---------------------------------------------------------------------------------
# Fuzz: seeded random flows within what Metaflow accepts, compiled, run, compared

# Metaflow's own refusals: reserved step names (lint), reserved parameter names.
METAFLOW_RESERVED_STEPS = {"name", "next", "input", "index", "cmd", "start", "end"}
METAFLOW_RESERVED_PARAMS = {
    "params",
    "with",
    "tag",
    "namespace",
    "obj",
    "tags",
    "decospecs",
    "run-id-file",
    "max-num-splits",
    "max-workers",
    "max-log-size",
    "user-namespace",
    "run-id",
    "task-id",
    "runner-attribute-file",
}
HOSTILE_STEP_WORDS = [
    "type",
    "match",
    "case",
    "config",
    "context",
    "conf",
    "meta",
    "output",
    "op_start",
    "op_end",
    "print",
    "sorted",
    "json",
    "os",
    "sys",
    "started",
    "inputs",
    "result",
    "defs",
    "job",
    "op",
    "flow",
    "x_",
    "a1",
    "run_step",
    "field",
    "str",
    "lambda_",
]
CHARS = (
    "abcXYZ019 _-.,;:!?'\"`\\/\n\t\r{}[]()%$#@&*+=<>|~^"
    "éüßçñ日本語中文한국어🚀💥\u200b\u00a0\u2028\u202e\ufeff\U0001d518"
)


class FlowFuzzer:
    """A flow with random (but Metaflow-valid) names, parameters and values."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed

    def text(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return ""
        if roll < 0.1:
            return "".join(rng.choice(CHARS) for _ in range(10_000))
        return "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 40)))

    def identifier(self, alphabet: str, first: str, longest: int) -> str:
        rng = self.rng
        return rng.choice(first) + "".join(
            rng.choice(alphabet) for _ in range(rng.randint(0, longest))
        )

    def step_names(self, count: int) -> list[str]:
        from metaflow import FlowSpec

        taken = set(dir(FlowSpec)) | METAFLOW_RESERVED_STEPS
        names: list[str] = []
        while len(names) < count:
            if self.rng.random() < 0.6:
                name = self.rng.choice(HOSTILE_STEP_WORDS)
            else:
                lower = "abcdefghijklmnopqrstuvwxyz"
                name = self.identifier(lower + "0123456789_", lower, 20)
            if name not in taken and not keyword.iskeyword(name):
                taken.add(name)
                names.append(name)
        return names

    def parameter_names(self, count: int) -> list[str]:
        letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        pool = ["config", "class", "type", "context", "json", "Field", "model_dump"]
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < count:
            if self.rng.random() < 0.3:
                name = self.rng.choice(pool)
            else:
                name = self.identifier(letters + "0123456789_-", letters, 12)
            key = name.replace("-", "_").lower()
            if key in seen or name in METAFLOW_RESERVED_PARAMS:
                continue
            if key in {p.replace("-", "_") for p in METAFLOW_RESERVED_PARAMS}:
                continue
            seen.add(key)
            names.append(name)
        return names

    def json_value(self, depth: int = 0) -> Any:
        rng = self.rng
        roll = rng.random()
        if depth > 2 or roll < 0.3:
            return rng.choice(
                [None, True, False, 0, -1, 2**40, 1.5, -2.25e-10, self.text()[:30]]
            )
        if roll < 0.65:
            return [self.json_value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {
            self.text()[:12]: self.json_value(depth + 1)
            for _ in range(rng.randint(0, 3))
        }

    def value(self, kind: str, default: bool = False) -> Any:
        rng = self.rng
        if kind == "str":
            return self.text()
        if kind == "int":
            # Defaults beyond 2**53 - 1 are refused by create (tested on their own).
            big = 2**53 - 1 if default else 2**63 + 1
            return rng.choice([0, -1, 7, 2**31, -big, rng.randint(-1000, 1000)])
        if kind == "float":
            return rng.choice([0.0, -0.5, 1e-300, 1.7976931348623157e308, 3.14159])
        if kind == "bool":
            return rng.random() < 0.5
        return self.json_value()

    def flow(self) -> tuple[str, str, dict[str, Any], dict[str, Any], list[str]]:
        """(class name, source, launch config, expected values, steps in order)."""
        rng = self.rng
        base = rng.choice(["Fuzz", "Flöw", "Ωmega", "流れ", "Config", "Op", "Job"])
        class_name = f"{base}{self.seed}_" + self.identifier("abcXYZ_9", "aX", 6)
        steps = ["start", *self.step_names(rng.randint(1, 3)), "end"]
        params = []
        config: dict[str, Any] = {}
        expected: dict[str, Any] = {}
        for i, name in enumerate(self.parameter_names(rng.randint(1, 4))):
            kind = rng.choice(["str", "int", "float", "bool", "json"])
            default = None if rng.random() < 0.2 else self.value(kind, default=True)
            if kind == "bool" and default is None:
                default = False
            help_text = self.text()
            params.append((f"p{i}", name, kind, default, help_text))
            given = rng.random() < 0.7
            if given:
                config[name] = self.value(kind)
            value = config[name] if given else default
            if kind == "json" and value is None:
                value = default  # Metaflow reads a JSON null as "use the default"
            expected[name] = value
        lines = [
            "# fuzzed flow",
            "from metaflow import FlowSpec, JSONType, Parameter, step",
            "",
            "",
            f"class {class_name}(FlowSpec):",
        ]
        for attr, name, kind, default, help_text in params:
            args = [repr(name)]
            if kind == "json":
                args.append("type=JSONType")
                literal = None if default is None else json.dumps(default)
                args.append(f"default={literal!r}")
            else:
                if kind != "str":
                    args.append(f"type={kind}")
                args.append(f"default={default!r}")
            args.append(f"help={help_text!r}")
            lines.append(f"    {attr} = Parameter({', '.join(args)})")
        seen = ", ".join(f"{name!r}: self.{attr}" for attr, name, *_ in params)
        for i, step in enumerate(steps):
            lines += ["", "    @step", f"    def {step}(self):"]
            if i == 0:
                lines.append(f"        self.seen = {{{seen}}}")
                lines.append("        self.trail = []")
            lines.append(f"        self.trail = self.trail + [{step!r}]")
            if i + 1 < len(steps):
                lines.append(f"        self.next(self.{steps[i + 1]})")
        lines += ["", "", 'if __name__ == "__main__":', f"    {class_name}()", ""]
        return class_name, "\n".join(lines), config, expected, steps


def fuzz_seeds() -> list[int]:
    return list(range(1, 1 + int(os.environ.get("FUZZ_FLOWS", "3"))))


@pytest.mark.parametrize("seed", fuzz_seeds())
def test_fuzzed_flows_round_trip(seed: int, tmp_path: Path) -> None:
    class_name, source, config, expected, steps = FlowFuzzer(seed).flow()
    folder = tmp_path / "fuzz"
    folder.mkdir()
    flow = folder / "fuzz_flow.py"
    flow.write_text(source, encoding="utf-8")
    create(flow, "defs.py")
    ruff_pyflakes(folder / "defs.py")
    module = load_module(folder / "defs.py")
    job = getattr(module, class_name)
    assert_dagster_names_valid(job)
    assert len(job.graph.nodes) == len(steps)
    result = job.execute_in_process(run_config=start_config(config))
    assert_success(result)
    run = read_run(folder, run_pathspec(result))
    assert run["successful"] is True, source
    assert artifacts(run, "start")[0]["seen"] == expected, source
    assert artifacts(run, "end")[0]["trail"] == steps
