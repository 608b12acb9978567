"""Metaflow's Deployer API on Dagster: `Deployer(flow).dagster()`, against a real
`dagster dev` (see test_trigger.py for the server and process helpers)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from metaflow import DeployedFlow, Deployer
from metaflow_dagster import launch
from test_trigger import (
    SLEEPY_FLOW,
    assert_no_survivors,
    dagster_dev,
    dagster_home,
    free_port,
    step_session,
)

RUN_TIMEOUT = 300

TYPED_FLOW = '''
from metaflow import FlowSpec, JSONType, Parameter, step


class TypedFlow(FlowSpec):
    """Every parameter type the Deployer passes on."""

    text = Parameter("text", default="x")
    number = Parameter("number", type=int, default=1)
    ratio = Parameter("ratio", type=float, default=0.5)
    flag = Parameter("flag", type=bool, default=False)
    blob = Parameter("blob-data", type=JSONType, default='{"a": 1}')
    needed = Parameter("needed", required=True, help="It's 'required'.")

    @step
    def start(self):
        self.seen = {
            "text": self.text,
            "number": self.number,
            "ratio": self.ratio,
            "flag": self.flag,
            "blob": self.blob,
            "needed": self.needed,
        }
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TypedFlow()
'''


# Its tasks (`python gated_flow.py init|step ...`) wait for the file `go` beside the
# flow's directory before Metaflow even starts, so before the run records anything,
# .metaflow included. The Deployer's own commands (`... dagster create|trigger`) and
# its in-process load of the file (not as __main__) do not wait.
GATED_FLOW = """
import os
import sys
import time

from metaflow import FlowSpec, step


class GatedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    if "dagster" not in sys.argv[1:]:
        here = os.path.dirname(os.path.abspath(__file__))
        go = os.path.join(os.path.dirname(here), "go")
        deadline = time.monotonic() + 300
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.1)
    GatedFlow()
"""


def deployer(flow: Path, url: str) -> object:
    return Deployer(
        str(flow), show_output=False, cwd=str(flow.parent), env={"DAGSTER_URL": url}
    ).dagster()


@pytest.mark.timeout(600)
def test_deployer_create_trigger_status_run(
    flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    flow = flow_dir / "typed_flow.py"
    flow.write_text(TYPED_FLOW)
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    deployed = deployer(flow, url).create(name="typed_job", output="typed_defs.py")
    timings["create"] = time.monotonic() - t0
    assert deployed.name == "typed_job"
    assert deployed.flow_name == "TypedFlow"
    assert deployed.file == str(flow_dir / "typed_defs.py")
    assert deployed.metadata.startswith("local@")

    with dagster_dev(flow_dir, "typed_defs.py", port=port):
        timings["dagster_dev"] = time.monotonic() - t0
        t1 = time.monotonic()
        triggered = deployed.trigger(
            needed="deployed",
            number=7,
            ratio=1.5,
            flag=True,
            blob_data={"x": [1, 2], "y": None},
        )
        timings["trigger"] = time.monotonic() - t1
        # Queued: the daemon has not started it, so Metaflow has no run yet.
        assert triggered.run is None
        assert triggered.status in ("PENDING", "RUNNING")
        queued = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")
        assert triggered.dagster_status in queued
        run_id = f"dagster-{triggered.dagster_run_id}"
        assert triggered.pathspec == f"TypedFlow/{run_id}"
        assert triggered.dagster_ui_url == f"{url}/runs/{triggered.dagster_run_id}"

        t2 = time.monotonic()
        final = triggered.wait_for_completion(check_interval=2, timeout=RUN_TIMEOUT)
        timings["run"] = time.monotonic() - t2
        assert final == "SUCCEEDED"
        assert triggered.status == "SUCCEEDED" and not triggered.is_running
        assert triggered.dagster_status == "SUCCESS"

        # The client finds the run where the flow records it, whatever our cwd.
        run = triggered.run
        assert run is not None and run.successful
        seen = run["start"].task.data.seen
        assert seen == {
            "text": "x",
            "number": 7,
            "ratio": 1.5,
            "flag": True,
            "blob": {"x": [1, 2], "y": None},
            "needed": "deployed",
        }
        assert isinstance(seen["ratio"], float) and isinstance(seen["flag"], bool)

        # Back from the job name alone, through the webserver at $DAGSTER_URL.
        monkeypatch.setenv("DAGSTER_URL", url)
        again = DeployedFlow.from_deployment("typed_job", impl="dagster")
        assert (again.name, again.flow_name) == ("typed_job", "TypedFlow")
        assert again.file == str(flow_dir / "typed_defs.py")
        assert again.metadata == deployed.metadata
        found = DeployedFlow.get_triggered_dagster_run("typed_job", run_id)
        assert found.status == "SUCCEEDED"
        assert found.run is not None and found.run.successful
        # ... and from the generated file, without a webserver.
        by_file = DeployedFlow.from_dagster(str(flow_dir / "typed_defs.py"))
        assert (by_file.name, by_file.flow_name) == ("typed_job", "TypedFlow")
        listed = list(DeployedFlow.list_dagster(flow_name="TypedFlow"))
        assert [d.name for d in listed] == ["typed_job"]
    print("timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))


@pytest.mark.timeout(600)
def test_deployer_from_deployment_trigger_and_terminate(
    flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    flow = flow_dir / "sleepy_flow.py"
    flow.write_text(SLEEPY_FLOW)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    deployer(flow, url).create(name="sleepy_job", output="sleepy_defs.py")
    marker = f"mfdg-marker-{uuid.uuid4().hex}"

    with dagster_dev(flow_dir, "sleepy_defs.py", port=port):
        timings["dagster_dev"] = time.monotonic() - t0
        monkeypatch.setenv("DAGSTER_URL", url)
        elsewhere = flow_dir.parent / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        deployed = DeployedFlow.from_dagster("sleepy_job")
        assert (deployed.name, deployed.flow_name) == ("sleepy_job", "SleepyFlow")
        triggered = deployed.trigger(marker=marker)
        t1 = time.monotonic()
        step = step_session(marker, flow)
        timings["until_sleeping"] = time.monotonic() - t1
        assert triggered.status == "RUNNING" and triggered.is_running
        assert triggered.run is not None and not triggered.run.finished

        t2 = time.monotonic()
        assert triggered.terminate() is True
        timings["terminate"] = time.monotonic() - t2
        assert triggered.status == "ABORTED"
        assert triggered.dagster_status == "CANCELED"
        assert not triggered.is_running
        assert_no_survivors((marker,), sessions=(step,))
        # Nothing ran in this process's directory.
        assert list(elsewhere.iterdir()) == []
        # The run's Metaflow side: start succeeded, the killed step did not.
        run = triggered.run
        assert run["start"].task.successful
        assert not run.successful
        # The killed task is recorded as failed, with what it printed before.
        [sleepy] = list(run["sleepy"])
        assert sleepy.successful is False
        assert "sleeping" in sleepy.stdout
    print("timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))


def test_deployer_create_writes_the_attributes(flow_dir: Path) -> None:
    """No Dagster needed: `create` alone, and its failure surfaces."""
    flow = flow_dir / "typed_flow.py"
    flow.write_text(TYPED_FLOW)
    deployed = deployer(flow, "http://127.0.0.1:1").create()
    # The defaults of `dagster create`: job named after the flow, file beside it.
    assert deployed.name == "TypedFlow"
    assert deployed.file == str(flow_dir / "typed_flow_dagster.py")
    assert Path(deployed.file).is_file()
    [job] = launch.jobs_in_file(deployed.file)
    assert job.metadata == deployed.metadata
    with pytest.raises(RuntimeError, match="may only contain letters"):
        deployer(flow, "http://127.0.0.1:1").create(name="bad-name")


@pytest.mark.timeout(600)
def test_triggered_run_is_none_until_the_run_records_in_a_new_directory(
    tmp_path: Path,
) -> None:
    """`run` right after `trigger()`, before the run created the `.metaflow` its
    metadata names, is None (Metaflow's client refuses to select a local metadata
    directory without one); then it is the run once started.

    The Deployer works from another new directory (its commands create a .metaflow
    there, not beside the flow, where the run records); no webserver answers, so the
    run is launched in a background process.
    """
    flows = tmp_path / "flows"
    work = tmp_path / "work"
    flows.mkdir()
    work.mkdir()
    flow = flows / "gated_flow.py"
    flow.write_text(GATED_FLOW)
    env = {
        "DAGSTER_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "DAGSTER_HOME": str(dagster_home(tmp_path)),
    }
    dagster = Deployer(str(flow), show_output=False, cwd=str(work), env=env).dagster()
    deployed = dagster.create(output=str(flows / "gated_defs.py"))
    # Where the runs record (beside the flow), not the Deployer's working directory.
    assert deployed.metadata == f"local@{flows.resolve()}"
    triggered = deployed.trigger()
    try:
        assert triggered.metadata_for_flow == f"local@{flows.resolve()}"
        assert triggered.run is None
        # It was read while nothing was recorded beside the flow (the tasks wait).
        assert not (flows / ".metaflow").exists()
        assert triggered.run is None

        (tmp_path / "go").touch()
        run = triggered.wait_for_run(check_interval=1, timeout=RUN_TIMEOUT)
        assert run.pathspec == triggered.pathspec
        final = triggered.wait_for_completion(check_interval=1, timeout=RUN_TIMEOUT)
        assert final == "SUCCEEDED"
        run = triggered.run
        assert run is not None and run.successful and run.finished
        assert (flows / ".metaflow" / "GatedFlow").is_dir()
    finally:
        # Never leave the background run waiting, even when an assertion failed.
        (tmp_path / "go").touch()
        triggered.wait_for_completion(check_interval=1, timeout=RUN_TIMEOUT)


@pytest.mark.timeout(600)
def test_from_deployment_by_name_without_a_webserver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no webserver answers, `from_deployment(<job name>)` finds the job among
    those `create` recorded in $DAGSTER_HOME (as Argo's finds a deployment by name in
    its cluster), and the run it triggers is launched in the background there."""
    flow = tmp_path / "typed_flow.py"
    flow.write_text(TYPED_FLOW)
    home = dagster_home(tmp_path)
    env = {
        "DAGSTER_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "DAGSTER_HOME": str(home),
    }
    dagster = Deployer(str(flow), show_output=False, cwd=str(tmp_path), env=env)
    dagster.dagster().create(name="typed_job", output=str(tmp_path / "typed_defs.py"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    deployed = DeployedFlow.from_dagster("typed_job")
    assert (deployed.name, deployed.flow_name) == ("typed_job", "TypedFlow")
    triggered = deployed.trigger(needed="yes")
    final = triggered.wait_for_completion(check_interval=1, timeout=RUN_TIMEOUT)
    assert final == "SUCCEEDED"
    seen = triggered.run["start"].task.data.seen
    assert seen["needed"] == "yes" and seen["blob"] == {"a": 1}
    # Another instance knows nothing of it.
    (tmp_path / "other").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home(tmp_path / "other")))
    with pytest.raises(Exception, match="recorded no such job"):
        DeployedFlow.from_dagster("typed_job")
