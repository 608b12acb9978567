"""`python flow.py dagster create`: output, options, errors, generated code quality."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import (
    REPO,
    artifacts,
    copy_flow,
    create,
    load_module,
    read_run,
    run_cli,
    run_pathspec,
)

RUFF = os.environ.get("RUFF", str(REPO / ".venv" / "bin" / "ruff"))


def test_default_output_name_and_module_attribute(flow_dir: Path) -> None:
    flow = copy_flow("linear_flow.py", flow_dir)
    create(flow, None)
    generated = flow_dir / "linear_flow_dagster.py"
    assert generated.exists()
    module = load_module(generated)
    assert module.LinearFlow.name == "LinearFlow"
    assert module.defs.get_job_def("LinearFlow") is not None


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
    # Only the standard library, dagster, pydantic (a dagster dependency) and metaflow.
    allowed = {"dagster", "pydantic", "metaflow"}
    for line in text.splitlines():
        if line.startswith(("import ", "from ")):
            root = line.split()[1].split(".")[0]
            assert root in allowed or root in sys.stdlib_module_names, line


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
    create(flow, "defs.py", "--name", "nightly_pipeline", "--tag", "env:prod")
    module = load_module(flow_dir / "defs.py")
    job = module.LinearFlow
    assert job.name == "nightly_pipeline"
    result = job.execute_in_process()
    assert result.success
    run = read_run(flow_dir, run_pathspec(result))
    assert "env:prod" in run["tags"]


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
    assert "middle" in out
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
    from metaflow_dagster.runtime.model import FORKSERVER_PRELOAD

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
