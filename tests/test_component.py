"""The `dg` component (issue #17, part 5): a project scaffolded as Dagster's docs show
(`create-dagster project`), a flow declared with `dg scaffold defs`, checked, listed,
launched and served by `dg`, recompiled exactly when what the compile reads changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO, comparable, native_run, read_run
from metaflow_dagster import launch
from metaflow_dagster.launch import load_generated
from test_trigger import dagster_home, free_port

BIN = Path(sys.executable).parent
COMPONENT = "metaflow_dagster.component.MetaflowFlow"
SERVER_TIMEOUT = 240.0


def dg(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        # The project is not installed here: its package is found on the path.
        "PYTHONPATH": str(project / "src"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(dagster_home(project.parent)),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    proc = subprocess.run(
        [str(BIN / "dg"), *args], cwd=project, env=env, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dg {' '.join(args)}: {proc.returncode}\n{proc.stderr}")
    return proc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run(
        [str(BIN / "create-dagster"), "project", "flowproj", "--no-uv-sync"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    return tmp_path / "flowproj"


def listed(project: Path) -> dict:
    return json.loads(dg(project, "list", "defs", "--json").stdout)


def test_a_flow_declared_in_yaml_is_the_job_dagster_create_writes(
    project: Path,
) -> None:
    dg(project, "scaffold", "defs", COMPONENT, "hello")
    folder = project / "src" / "flowproj" / "defs" / "hello"
    assert (folder / "defs.yaml").read_text().split() == (
        f"type: {COMPONENT} attributes: flow: my_flow.py".split()
    )
    flow = folder / "my_flow.py"
    shutil.copy(REPO / "examples" / "ui_demo_flow.py", flow)
    assert "All definitions loaded successfully" in dg(project, "check", "defs").stdout

    defs = listed(project)
    assert [j["name"] for j in defs["jobs"]] == ["UiDemoFlow"]
    assert [s["name"] for s in defs["sensors"]] == ["UiDemoFlow_lost_runs"]
    keys = {a["asset_key"] for a in defs["assets"]}
    assert keys == {"UiDemoFlow", "UiDemoFlow/greeting", "UiDemoFlow/lengths"}

    # The same job as `dagster create` writes from the same flow.
    [cached] = (folder / ".metaflow-dagster").glob("*.py")
    direct = folder / "direct_defs.py"
    subprocess.run(
        [sys.executable, flow.name, "dagster", "create", direct.name],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    ours, theirs = load_generated(str(cached)), load_generated(str(direct))
    direct.unlink()
    assert _shape(ours.UiDemoFlow) == _shape(theirs.UiDemoFlow)
    # Every fact of FLOW but where the file sits (the same flow file, found from each)
    # and the fast launch object (each module's own).
    assert ours.FLOW.flow_path == theirs.FLOW.flow_path == str(flow)
    assert ours.FLOW.fast_launch is not None and theirs.FLOW.fast_launch is not None
    same = {"file": "", "anchor": "", "fast_launch": None}
    assert repr(replace(ours.FLOW, **same)) == repr(replace(theirs.FLOW, **same))

    # `dg launch` runs it: the artifacts are a native run's.
    out = dg(project, "launch", "--job", "UiDemoFlow")
    assert "RUN_SUCCESS" in out.stdout + out.stderr
    [run_id] = [p.name for p in (folder / ".metaflow" / "UiDemoFlow").iterdir()
                if p.name.startswith("dagster-")]  # fmt: skip
    ours_run = read_run(folder, f"UiDemoFlow/{run_id}")
    assert ours_run["successful"]
    assert comparable(ours_run) == comparable(read_run(folder, native_run(flow)))

    # Unchanged inputs: loaded from the cache, not compiled again.
    stamp = cached.stat().st_mtime_ns
    dg(project, "check", "defs")
    assert list((folder / ".metaflow-dagster").glob("*.py")) == [cached]
    assert cached.stat().st_mtime_ns == stamp
    # A changed flow is compiled again: the new artifact is an asset.
    text = flow.read_text().replace(
        "        total = sum(self.lengths.values())",
        "        total = sum(self.lengths.values())\n        self.total = total",
    )
    flow.write_text(text)
    keys = {a["asset_key"] for a in listed(project)["assets"]}
    assert "UiDemoFlow/total" in keys
    assert len(list((folder / ".metaflow-dagster").glob("*.py"))) == 2
    # So is a changed option of the YAML, and a file beside the flow.
    (folder / "defs.yaml").write_text(
        f"type: {COMPONENT}\nattributes:\n  flow: my_flow.py\n  name: hello_job\n"
    )
    assert [j["name"] for j in listed(project)["jobs"]] == ["hello_job"]
    (folder / "helper.py").write_text("X = 1\n")
    dg(project, "check", "defs")
    assert len(list((folder / ".metaflow-dagster").glob("*.py"))) == 4


def test_dg_dev_serves_the_component(project: Path) -> None:
    dg(project, "scaffold", "defs", COMPONENT, "hello")
    folder = project / "src" / "flowproj" / "defs" / "hello"
    shutil.copy(REPO / "examples" / "linear_flow.py", folder / "my_flow.py")
    port = free_port()
    log = project / "dg_dev.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(dagster_home(project.parent)),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "dg"), "dev", "-p", str(port), "-h", "127.0.0.1"],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        webserver = launch.Webserver(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + SERVER_TIMEOUT
        while not (webserver.answers() and webserver.jobs()):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        [job] = webserver.jobs()
        assert (job.name, job.flow_name) == ("LinearFlow", "LinearFlow")
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def _shape(job) -> tuple:
    """Each op's name and description, and how the ops are wired."""
    ops = sorted((n.name, n.definition.description) for n in job.graph.nodes)
    wiring = sorted(
        (invocation.name, name, repr(dep))
        for invocation, inputs in job.graph.dependencies.items()
        for name, dep in inputs.items()
    )
    return ops, wiring
