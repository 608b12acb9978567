"""Parameters become a typed Config on the start op and reach the flow through init."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from conftest import artifacts, compile_flow, native_run, read_run, run_pathspec
from dagster import DagsterInstance, DagsterInvalidConfigError
from metaflow_dagster.runtime.dagster_adapter import ConfigTypeKind


def config_schema_fields(module) -> dict:
    job = module.ParamFlow
    op_def = job.graph.node_named("op_start").definition
    return op_def.config_schema.config_type.fields


def scalar_kind(field) -> str:
    """The field's type, unwrapping Dagster's Noneable (fields with defaults are)."""
    kind = field.config_type
    if kind.kind == ConfigTypeKind.NONEABLE:
        kind = kind.inner_type
    return kind.key


def test_config_is_typed_with_defaults_and_help(flow_dir: Path) -> None:
    _, module = compile_flow("param_flow.py", flow_dir)
    fields = config_schema_fields(module)
    assert set(fields) == {
        "greeting",
        "count",
        "ratio",
        "loud",
        "config-blob",
        "class",
        "who",
        "maybe",
    }
    kinds = {name: scalar_kind(field) for name, field in fields.items()}
    assert kinds == {
        "greeting": "StringSourceType",
        "count": "IntSourceType",
        "ratio": "Float",
        "loud": "BoolSourceType",
        "config-blob": "Any",
        "class": "StringSourceType",
        "who": "StringSourceType",
        "maybe": "IntSourceType",
    }
    assert fields["greeting"].default_value == "hello"
    assert fields["count"].default_value == 3
    assert fields["ratio"].default_value == 0.5
    assert fields["loud"].default_value is False
    assert fields["config-blob"].default_value == {"a": [1, None]}
    assert fields["greeting"].description == "How to greet."
    assert fields["count"].description == "How many times.\nA second line of help."
    assert fields["class"].description == 'A "keyword" name'
    # required=True without a default is required in the launchpad.
    assert fields["who"].is_required
    assert not fields["greeting"].is_required
    assert not fields["maybe"].is_required


def test_values_reach_the_flow(flow_dir: Path) -> None:
    _, module = compile_flow("param_flow.py", flow_dir)
    config = {
        "greeting": "Hi",
        "count": 2,
        "ratio": 1.25,
        "loud": True,
        "config-blob": {"nested": [None, {"x": 1.5}], "s": 'quote " and \\ slash'},
        "class": "a b",
        "who": "Ada",
        "maybe": 7,
    }
    result = module.ParamFlow.execute_in_process(
        run_config={"ops": {"op_start": {"config": config}}}
    )
    assert result.success
    run = read_run(flow_dir, run_pathspec(result))
    start = artifacts(run, "start")[0]
    assert start["message"] == "HI HI ADA"
    expected = dict(config)
    expected["config_blob"] = expected.pop("config-blob")
    assert start["seen"] == expected


def test_defaults_apply_when_only_required_given(flow_dir: Path) -> None:
    _, module = compile_flow("param_flow.py", flow_dir)
    result = module.ParamFlow.execute_in_process(
        run_config={"ops": {"op_start": {"config": {"who": "Bo"}}}}
    )
    assert result.success
    run = read_run(flow_dir, run_pathspec(result))
    assert artifacts(run, "start")[0]["seen"] == {
        "greeting": "hello",
        "count": 3,
        "ratio": 0.5,
        "loud": False,
        "config_blob": {"a": [1, None]},
        "class": "k",
        "who": "Bo",
        "maybe": None,
    }


def test_missing_required_parameter_is_a_config_error(flow_dir: Path) -> None:
    _, module = compile_flow("param_flow.py", flow_dir)
    with pytest.raises(DagsterInvalidConfigError) as err:
        module.ParamFlow.execute_in_process()
    assert "who" in str(err.value)


def metaflow_command(args: list[str]) -> str:
    """The Metaflow command (`init`, `step`) of a logged command line: the first
    argument after the interpreter and the flow file that is not an option."""
    return next(arg for arg in args[2:] if not arg.startswith("-"))


def test_parameters_task_created_once_when_start_retries(flow_dir: Path) -> None:
    _, module = compile_flow("retry_start_flow.py", flow_dir)
    with DagsterInstance.ephemeral() as instance:
        result = module.RetryStartFlow.execute_in_process(
            run_config={"ops": {"op_start": {"config": {"size": 5}}}},
            instance=instance,
        )
        assert result.success
        messages = [
            r.user_message
            for r in instance.all_logs(result.run_id)
            if r.step_key == "op_start"
        ]
    # Both attempts of the start op ran, and only the first one ran `init`.
    commands = [
        shlex.split(m.removeprefix("Running: "))
        for m in messages
        if m.startswith("Running: ")
    ]
    assert [metaflow_command(c) for c in commands] == ["init", "step", "step"]
    assert [c[c.index("--retry-count") + 1] for c in commands[1:]] == ["0", "1"]
    [again] = [m for m in messages if "not initialising again" in m]
    assert f"dagster-{result.run_id}/_parameters/params" in again
    run = read_run(flow_dir, run_pathspec(result))
    assert run["parameter_tasks"] == ["params"]
    [start] = run["steps"]["start"]
    assert start["attempt"] == 1
    assert start["artifacts"]["doubled"] == 10
    assert start["artifacts"]["attempt_seen"] == 1
    assert json.dumps(run["successful"]) == "true"


def test_include_file_default_is_stored_at_create_and_a_path_is_read_at_launch(
    flow_dir: Path,
) -> None:
    """An IncludeFile's default is stored in the datastore by `create` (as Metaflow's
    schedulers store it on deploy); a path given at launch is read, relative to the
    flow's directory, and stored when the run starts, as `python flow.py run` does."""
    table = flow_dir / "table.csv"
    table.write_text("a,b\n1,2\n")
    flow, module = compile_flow("include_file_flow.py", flow_dir)
    default = module.StartConfig.model_fields["table"].default
    assert json.loads(default)["type"].startswith("uploader")
    table.write_text("a,b\n1,2\n3,4\n")
    # The default: the file as it was at create time.
    result = module.IncludeFileFlow.execute_in_process()
    run = read_run(flow_dir, run_pathspec(result))
    assert artifacts(run, "start")[0]["rows"] == [["a", "b"], ["1", "2"]]
    # A path: the file as it is now, as a native run reads it.
    result = module.IncludeFileFlow.execute_in_process(
        run_config={"ops": {"op_start": {"config": {"table": "table.csv"}}}}
    )
    run = read_run(flow_dir, run_pathspec(result))
    native = read_run(flow_dir, native_run(flow))
    rows = [["a", "b"], ["1", "2"], ["3", "4"]]
    assert artifacts(run, "start")[0]["rows"] == rows
    assert artifacts(native, "start")[0]["rows"] == rows
    # An absolute path.
    other = flow_dir.parent / "other.csv"
    other.write_text("x\n")
    result = module.IncludeFileFlow.execute_in_process(
        run_config={"ops": {"op_start": {"config": {"table": str(other)}}}}
    )
    run = read_run(flow_dir, run_pathspec(result))
    assert artifacts(run, "start")[0]["rows"] == [["x"]]


def test_json_text_has_one_meaning_in_launchpad_cli_and_native(flow_dir: Path) -> None:
    """A string in a JSON field is JSON text, as `--config-blob` takes it natively; a
    structured value (YAML in the launchpad) is the value itself."""
    flow, module = compile_flow("param_flow.py", flow_dir)
    text = '{"k": [1, null], "s": "text"}'
    native = read_run(flow_dir, native_run(flow, "--who", "Ada", "--config-blob", text))
    expected = artifacts(native, "start")[0]["seen"]["config_blob"]
    assert expected == {"k": [1, None], "s": "text"}
    for value in (text, json.loads(text)):
        config = {"who": "Ada", "config-blob": value}
        result = module.ParamFlow.execute_in_process(
            run_config={"ops": {"op_start": {"config": config}}}
        )
        assert result.success
        seen = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
        assert seen["config_blob"] == expected
    # A JSON string, quoted as Metaflow's CLI wants it.
    result = module.ParamFlow.execute_in_process(
        run_config={"ops": {"op_start": {"config": {"who": "A", "config-blob": '"x"'}}}}
    )
    seen = artifacts(read_run(flow_dir, run_pathspec(result)), "start")[0]["seen"]
    assert seen["config_blob"] == "x"
    # What `--config-blob` refuses is refused before Metaflow's init runs.
    config = {"who": "A", "config-blob": "not json"}
    result = module.ParamFlow.execute_in_process(
        run_config={"ops": {"op_start": {"config": config}}}, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "'config-blob' of ParamFlow takes JSON" in message
    assert "'not json' is not JSON text" in message
    logged = [
        e.message for e in result.all_events if (e.message or "").startswith("Running:")
    ]
    assert not any(" init " in m for m in logged)
    # The launchpad says so under the field.
    field = config_schema_fields(module)["config-blob"]
    assert "a string of JSON text, as `--config-blob` takes it" in field.description
