"""`python flow.py dagster create`: output, options, errors, generated code quality."""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    REPO,
    artifacts,
    copy_flow,
    create,
    load_module,
    read_run,
    run_cli,
    run_pathspec,
    task_id,
)
from dagster import DagsterInstance

RUFF = os.environ.get("RUFF", str(REPO / ".venv" / "bin" / "ruff"))


def test_default_output_name_and_module_attribute(flow_dir: Path) -> None:
    flow = copy_flow("linear_flow.py", flow_dir)
    create(flow, None)
    generated = flow_dir / "linear_flow_dagster.py"
    assert generated.exists()
    module = load_module(generated)
    assert module.LinearFlow.name == "LinearFlow"
    assert module.defs.get_job_def("LinearFlow") is not None


def test_default_output_goes_to_the_current_directory(
    flow_dir: Path, tmp_path: Path
) -> None:
    """With no output argument the file is written where the command runs (as the
    README says), not beside the flow, and still finds the flow file."""
    flow = copy_flow("linear_flow.py", flow_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_cli([str(flow), "dagster", "create"], cwd=elsewhere)
    generated = elsewhere / "linear_flow_dagster.py"
    assert generated.exists()
    assert not (flow_dir / "linear_flow_dagster.py").exists()
    module = load_module(generated)
    assert Path(module.FLOW.flow_path).resolve() == flow.resolve()
    result = module.LinearFlow.execute_in_process()
    assert result.success
    run = read_run(flow_dir, run_pathspec(result))
    assert artifacts(run, "double") == [{"value": 84}]


def test_output_is_deterministic_ruff_clean_and_documented(flow_dir: Path) -> None:
    flow = copy_flow("foreach_flow.py", flow_dir)
    create(flow, "a.py")
    create(flow, "a.py")
    first = (flow_dir / "a.py").read_bytes()
    create(flow, "a.py")
    assert (flow_dir / "a.py").read_bytes() == first
    text = first.decode()
    assert "python foreach_flow.py dagster create a.py" in text.split('"""')[1]
    assert str(flow_dir) not in text, "no absolute paths of the compiling machine"
    for args in (["check", "--isolated"], ["format", "--isolated", "--check"]):
        proc = subprocess.run(
            [RUFF, *args, str(flow_dir / "a.py")], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def imported_roots(source: str) -> set[str]:
    """The top-level package of every import anywhere in a module (also the ones
    inside functions and blocks); a relative import fails the test."""
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, ast.unparse(node)
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", ["foreach_flow.py", "param_flow.py"])
def test_generated_file_imports_only_stdlib_dagster_metaflow(
    name: str, flow_dir: Path
) -> None:
    flow = copy_flow(name, flow_dir)
    create(flow, "defs.py")
    roots = imported_roots((flow_dir / "defs.py").read_text())
    assert {"dagster", "metaflow"} <= roots
    # Only the standard library, dagster and metaflow, plus pydantic: the Config class
    # of a flow with Parameters uses `pydantic.Field` for aliases, and pydantic is a
    # dependency of dagster itself, so it is always installed with it.
    allowed = {"dagster", "metaflow", "pydantic"}
    assert roots - allowed - sys.stdlib_module_names == set()


def test_dagster_can_load_the_file(flow_dir: Path) -> None:
    flow = copy_flow("branch_flow.py", flow_dir)
    create(flow, "defs.py")
    dagster = str(Path(sys.executable).parent / "dagster")
    proc = subprocess.run(
        [dagster, "definitions", "validate", "-f", "defs.py"],
        cwd=flow_dir,
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(flow_dir)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_name_and_tags(flow_dir: Path) -> None:
    flow = copy_flow("linear_flow.py", flow_dir)
    create(
        flow,
        "defs.py",
        *("--name", "nightly_pipeline", "--tag", "env:prod", "--tag", "team:ml"),
    )
    module = load_module(flow_dir / "defs.py")
    job = module.LinearFlow
    assert job.name == "nightly_pipeline"
    result = job.execute_in_process()
    assert result.success
    run = read_run(flow_dir, run_pathspec(result))
    assert {"env:prod", "team:ml"} <= set(run["tags"])
    # The tags reach `init` and every step's task, not only the run.
    assert run["parameter_user_tags"] == [["env:prod", "team:ml"]]
    assert set(run["steps"]) == {"start", "double", "end"}
    for step, tasks in run["steps"].items():
        for task in tasks:
            assert {"env:prod", "team:ml"} <= set(task["user_tags"]), (step, task)


def test_with_decorator_reaches_every_step(flow_dir: Path) -> None:
    flow = copy_flow("catch_flow.py", flow_dir)
    create(flow, "defs.py", "--with", "catch:var=problem")
    module = load_module(flow_dir / "defs.py")
    for step in module.FLOW.steps.values():
        [spec] = step.with_specs
        assert spec.startswith("catch:var=problem")
    result = module.CatchFlow.execute_in_process()
    assert result.success
    run = read_run(flow_dir, run_pathspec(result))
    assert "caught?" in artifacts(run, "risky")[0]["problem"]


def test_explicit_datastore_root_is_baked(flow_dir: Path, tmp_path: Path) -> None:
    flow = copy_flow("linear_flow.py", flow_dir)
    root = tmp_path / "elsewhere" / ".metaflow"
    root.mkdir(parents=True)
    create(flow, "defs.py", top=("--datastore=local", f"--datastore-root={root}"))
    module = load_module(flow_dir / "defs.py")
    assert module.FLOW.datastore_root == str(root)
    assert "--datastore=local" in module.FLOW.top_level_args
    assert "--metadata=local" in module.FLOW.top_level_args
    result = module.LinearFlow.execute_in_process()
    assert result.success
    assert (root / "LinearFlow").is_dir()
    assert not (flow_dir / ".metaflow" / "LinearFlow").exists()


def test_relative_datastore_root_is_baked_absolute(flow_dir: Path) -> None:
    """A relative --datastore-root means the directory under create's working
    directory: baked absolute, so ops reading the datastore from elsewhere agree."""
    flow = copy_flow("foreach_flow.py", flow_dir)
    create(flow, "defs.py", top=("--datastore=local", "--datastore-root=rel-ds"))
    module = load_module(flow_dir / "defs.py")
    assert module.FLOW.datastore_root == str(flow_dir / "rel-ds")
    # This process runs from elsewhere; the foreach op reads its splits from the root.
    assert Path.cwd() != flow_dir
    assert module.ForeachFlow.execute_in_process().success
    assert (flow_dir / "rel-ds" / "ForeachFlow").is_dir()


def test_default_metadata_and_datastore_from_environment_are_baked(
    flow_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """METAFLOW_DEFAULT_* and METAFLOW_DATASTORE_SYSROOT_LOCAL at `create` time are
    baked into the file: a run uses them in an environment without them (or with a
    different root), and its data lands where a native run with them puts it."""
    flow = copy_flow("linear_flow.py", flow_dir)
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    env = {
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(sysroot),
    }
    create(flow, "defs.py", env=env)
    module = load_module(flow_dir / "defs.py")
    assert "--metadata=local" in module.FLOW.top_level_args
    assert "--datastore=local" in module.FLOW.top_level_args
    # conftest removed these variables; a different root at run time must not matter.
    for name in ("METAFLOW_DEFAULT_METADATA", "METAFLOW_DEFAULT_DATASTORE"):
        assert name not in os.environ
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(decoy))
    result = module.LinearFlow.execute_in_process()
    assert result.success
    pathspec = run_pathspec(result)
    monkeypatch.delenv("METAFLOW_DATASTORE_SYSROOT_LOCAL")
    assert list(decoy.iterdir()) == []
    # A native run with the create-time environment, for where Metaflow keeps runs.
    run_id_file = flow_dir / "native-run-id"
    run_cli(
        [flow.name, "run", "--run-id-file", str(run_id_file)], cwd=flow_dir, env=env
    )
    native_dir = sysroot / ".metaflow" / "LinearFlow" / run_id_file.read_text()
    assert native_dir.is_dir()
    found = sorted(str(d.relative_to(sysroot)) for d in sysroot.glob("*/*"))
    assert (native_dir.parent / pathspec.split("/")[1]).is_dir(), found
    # The Metaflow client, configured like the create-time environment, finds it.
    run = read_run(flow_dir, pathspec, env=env)
    assert run["successful"]
    assert artifacts(run, "double") == [{"value": 84}]


def test_failed_step_fails_the_run(flow_dir: Path) -> None:
    flow = copy_flow("failing_flow.py", flow_dir)
    create(flow, "defs.py")
    module = load_module(flow_dir / "defs.py")
    result = module.FailingFlow.execute_in_process(raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "op_boom"
    message = failure.event_specific_data.error.message
    assert "boom on purpose" in message
    ran = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "op_end" not in ran


def test_linter_rejection_writes_nothing(flow_dir: Path) -> None:
    flow = copy_flow("lint_error_flow.py", flow_dir)
    (flow_dir / "defs.py").write_text("# keep me\n")
    proc = create(flow, "defs.py", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "LintErrorFlow" in out
    assert "Step middle is missing a self.next() transition" in out
    assert (flow_dir / "defs.py").read_text() == "# keep me\n"


def test_compiler_refusal_names_flow_step_and_decorator(flow_dir: Path) -> None:
    flow = copy_flow("kubernetes_flow.py", flow_dir)
    (flow_dir / "defs.py").write_text("# keep me\n")
    # Metaflow insists on a cloud datastore for @kubernetes; nothing is contacted.
    top = ("--datastore=s3", "--datastore-root=s3://bucket/prefix")
    proc = create(flow, "defs.py", top=top, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "KubernetesFlow" in out and "'train'" in out and "@kubernetes" in out
    assert (flow_dir / "defs.py").read_text() == "# keep me\n"
    assert sorted(p.name for p in flow_dir.iterdir() if p.name != ".metaflow") == [
        "defs.py",
        "kubernetes_flow.py",
    ]


def test_help_lists_create(flow_dir: Path) -> None:
    flow = copy_flow("linear_flow.py", flow_dir)
    proc = run_cli([flow.name, "dagster", "--help"], cwd=flow_dir)
    assert "create" in proc.stdout


def test_every_forkserver_preload_module_imports() -> None:
    """The fork server skips modules that fail to import, so a module Dagster renamed
    would only slow op processes down: check the list against the pinned versions."""
    from metaflow_dagster.runtime.dagster_adapter import FORKSERVER_PRELOAD

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            "    importlib.import_module(name)\n",
            *FORKSERVER_PRELOAD,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_each_op_logs_its_full_argument_list(flow_dir: Path) -> None:
    """The `Running: ...` line of every op is the complete command, parseable back
    into the exact argument list: interpreter, flow file, top-level options, the
    Metaflow command and all its options."""
    from metaflow.util import decompress_list

    flow = copy_flow("foreach_flow.py", flow_dir)
    # The nearest `.metaflow` is the run's datastore root: make it this test's own.
    root = flow_dir / ".metaflow"
    root.mkdir()
    create(flow, "defs.py", "--tag", "env:prod")
    module = load_module(flow_dir / "defs.py")
    with DagsterInstance.ephemeral() as instance:
        result = module.ForeachFlow.execute_in_process(instance=instance)
        assert result.success
        commands: dict[str, list[list[str]]] = {}
        for record in instance.all_logs(result.run_id):
            if record.user_message.startswith("Running: "):
                line = record.user_message.removeprefix("Running: ")
                commands.setdefault(record.step_key, []).append(shlex.split(line))
    run_id = "dagster-" + result.run_id
    head = [
        sys.executable,
        str(flow),
        "--quiet",
        "--metadata=local",
        "--environment=local",
        "--datastore=local",
        "--event-logger=nullSidecarLogger",
        "--monitor=nullSidecarMonitor",
        f"--datastore-root={root.resolve()}",
    ]

    def step(name: str, task: str, inputs: str, *extra: str) -> list[str]:
        return [
            *head,
            *("step", name, "--run-id", run_id, "--task-id", task),
            *("--retry-count", "0", "--max-user-code-retries", "0"),
            *("--input-paths", inputs, *extra, "--tag", "env:prod"),
        ]

    def joined(name: str, task: str, inputs: list[str]) -> list[str]:
        """A join's command, its compressed --input-paths expanded to the list."""
        [args] = commands.pop(f"op_{name}")
        at = args.index("--input-paths") + 1
        assert decompress_list(args[at]) == inputs
        args[at] = "<inputs>"
        assert args == step(name, task, "<inputs>")
        return args

    init = [*head, "init", "--run-id", run_id, "--task-id", "params"]

    def path(name: str, key: int | None = None) -> str:
        return f"{run_id}/{name}/{task_id(name, None if key is None else str(key))}"

    assert commands.pop("op_start") == [
        [*init, "--tag", "env:prod"],
        step("start", task_id("start"), f"{run_id}/_parameters/params"),
    ]
    # Ops are keyed by the items (zero-padded numbers, letters), tasks by index.
    for i, item in enumerate(["30", "10", "20", "05"]):
        assert commands.pop(f"op_body[{item}]") == [
            step(
                "body", task_id("body", str(i)), path("start"), "--split-index", str(i)
            )
        ]
        assert commands.pop(f"op_body_more[{item}]") == [
            step("body_more", task_id("body_more", str(i)), path("body", i))
        ]
    joined("collect", task_id("collect"), [path("body_more", i) for i in range(4)])
    assert commands.pop("op_single") == [
        step("single", task_id("single"), path("collect"))
    ]
    for i, letter in enumerate("cab"):
        assert commands.pop(f"op_shout[{letter}]") == [
            step(
                "shout",
                task_id("shout", str(i)),
                path("single"),
                "--split-index",
                str(i),
            )
        ]
    joined("gather", task_id("gather"), [path("shout", i) for i in range(3)])
    assert commands.pop("op_end") == [step("end", task_id("end"), path("gather"))]
    assert commands == {}
    # The logged commands are the ones that ran: the tasks exist under those ids.
    run = read_run(flow_dir, f"ForeachFlow/{run_id}")
    assert sorted(t["id"] for t in run["steps"]["body"]) == [
        task_id("body", str(i)) for i in range(4)
    ]
