"""@trigger_on_finish and @trigger become Dagster sensors; evaluated with Dagster's APIs
against a real instance, then the requested runs are executed for real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_flow, create, load_module, read_run, run_pathspec
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    DefaultSensorStatus,
    ReexecutionOptions,
    RunRequest,
    build_sensor_context,
    execute_job,
    job,
    op,
)
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob


@pytest.fixture
def instance(tmp_path: Path) -> Any:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        yield instance


def triggering(sensors: Any) -> list[Any]:
    """The job's sensors that start runs: all but the lost_runs sensor every job of
    the thread executor has (automation.lost_runs)."""
    return [s for s in sensors if not s.name.endswith("_lost_runs")]


def tick(
    sensor: Any, instance: Any, cursor: str | None
) -> tuple[list[RunRequest], str]:
    """One sensor evaluation, as the daemon runs it: run requests and the new cursor."""
    data = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor))
    assert data.cursor is not None
    return list(data.run_requests or []), data.cursor


def publish(instance: Any, event: str, **payload: Any) -> None:
    """Publish a Metaflow event the Dagster-native way (see the README's "Publishing a
    Metaflow event to Dagster")."""
    instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key=AssetKey(["metaflow_event", event]), metadata=payload
        )
    )


def start_artifacts(folder: Path, result: Any) -> dict[str, Any]:
    run = read_run(folder, run_pathspec(result))
    return run["steps"]["start"][0]["artifacts"] | run["steps"]["end"][0]["artifacts"]


# ---------------------------------------------------------------------------------
# @trigger_on_finish


def test_trigger_on_finish(flow_dir: Path, instance: Any) -> None:
    create(copy_flow("upstream_flow.py", flow_dir), "up.py")
    create(copy_flow("downstream_flow.py", flow_dir), "down.py")
    up, down = load_module(flow_dir / "up.py"), load_module(flow_dir / "down.py")
    # @project aware: the upstream job is named like ours, in the same project/branch.
    assert up.UpstreamFlow.name == "mfd_trig_user_tester_UpstreamFlow"
    assert down.FLOW.trigger_on_finish == (up.UpstreamFlow.name,)
    [sensor] = triggering(down.defs.get_repository_def().sensor_defs)
    assert sensor.name == "mfd_trig_user_tester_DownstreamFlow_on_finish"
    assert sensor.job_name == down.DownstreamFlow.name
    assert sensor.default_status == DefaultSensorStatus.RUNNING

    # History before the sensor's first tick never triggers.
    assert up.UpstreamFlow.execute_in_process(instance=instance).success
    requests, cursor = tick(sensor, instance, None)
    assert requests == []

    # Each successful upstream run triggers once; failed runs and other jobs never.
    first = up.UpstreamFlow.execute_in_process(instance=instance)
    failed = up.UpstreamFlow.execute_in_process(
        instance=instance,
        run_config={"ops": {"op_start": {"config": {"fail": True}}}},
        raise_on_error=False,
    )
    assert not failed.success
    second = up.UpstreamFlow.execute_in_process(instance=instance)
    requests, cursor = tick(sensor, instance, cursor)
    pathspecs = [run_pathspec(first), run_pathspec(second)]
    assert [r.tags["metaflow/trigger"] for r in requests] == pathspecs
    assert [r.run_key for r in requests] == pathspecs
    assert tick(sensor, instance, cursor)[0] == []

    # The triggered run sees its trigger as `current.trigger`, in every step.
    result = down.DownstreamFlow.execute_in_process(
        instance=instance, tags=requests[0].tags, run_config=requests[0].run_config
    )
    assert result.success
    facts = start_artifacts(flow_dir, result)
    expected = {
        "run": pathspecs[0],
        "value": 41,
        "event": "metaflow.UpstreamFlow.end",
    }
    assert facts["seen"] == expected
    assert facts["seen_at_end"] == expected
    # The downstream job's own success is not an upstream run.
    assert tick(sensor, instance, cursor)[0] == []

    # Launched by hand, there is no trigger, as under `python flow.py run`.
    manual = down.DownstreamFlow.execute_in_process(instance=instance)
    assert start_artifacts(flow_dir, manual)["seen"] is None


def test_trigger_on_finish_of_several_flows_waits_for_each(
    flow_dir: Path, instance: Any
) -> None:
    """With `flows=[...]`, a run starts once each upstream flow finished since the last
    one (the latest run of each), and the run sees all of them as `current.trigger`."""
    create(copy_flow("upstream_flow.py", flow_dir), "up.py")
    create(copy_flow("other_upstream_flow.py", flow_dir), "other.py")
    create(copy_flow("join_downstream_flow.py", flow_dir), "joined.py")
    up, other = load_module(flow_dir / "up.py"), load_module(flow_dir / "other.py")
    joined = load_module(flow_dir / "joined.py")
    assert joined.FLOW.trigger_on_finish == (
        up.UpstreamFlow.name,
        other.OtherUpstreamFlow.name,
    )
    [sensor] = triggering(joined.defs.get_repository_def().sensor_defs)
    requests, cursor = tick(sensor, instance, None)
    assert requests == []

    # One upstream flow alone (even twice) starts nothing.
    assert up.UpstreamFlow.execute_in_process(instance=instance).success
    latest_up = up.UpstreamFlow.execute_in_process(instance=instance)
    requests, cursor = tick(sensor, instance, cursor)
    assert requests == []
    # The other one completes the set: one run, keyed by both upstream runs.
    other_run = other.OtherUpstreamFlow.execute_in_process(instance=instance)
    requests, cursor = tick(sensor, instance, cursor)
    both = f"{run_pathspec(latest_up)} {run_pathspec(other_run)}"
    assert [(r.run_key, r.tags["metaflow/trigger"]) for r in requests] == [(both, both)]
    assert tick(sensor, instance, cursor)[0] == []

    result = joined.JoinDownstreamFlow.execute_in_process(
        instance=instance, tags=requests[0].tags, run_config=requests[0].run_config
    )
    assert result.success
    runs = read_run(flow_dir, run_pathspec(result))["steps"]["start"][0]
    assert runs["artifacts"]["runs"] == sorted(
        [run_pathspec(latest_up), run_pathspec(other_run)]
    )


FLAKY_UPSTREAM = """
import os

from metaflow import FlowSpec, Parameter, project, step


@project(name="mfd_trig")
class UpstreamFlow(FlowSpec):
    fail = Parameter("fail", default=False, type=bool)

    @step
    def start(self):
        if os.path.exists("fail.marker"):
            raise RuntimeError("failing while fail.marker exists")
        self.value = 41
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UpstreamFlow()
"""


def test_trigger_on_finish_keys_a_reexecuted_upstream_run_by_its_metaflow_run(
    flow_dir: Path, instance: Any
) -> None:
    """An upstream run that failed, then succeeded when re-executed from failure, is
    one Metaflow run: the run it triggers is keyed and tagged by that run (the daemon
    never starts two runs with one key), not by the re-execution's Dagster run."""
    (flow_dir / "upstream_flow.py").write_text(FLAKY_UPSTREAM)
    create(flow_dir / "upstream_flow.py", "up.py")
    create(copy_flow("downstream_flow.py", flow_dir), "down.py")
    down = load_module(flow_dir / "down.py")
    [sensor] = triggering(down.defs.get_repository_def().sensor_defs)
    cursor = tick(sensor, instance, None)[1]

    marker = flow_dir / "fail.marker"
    marker.write_text("")
    job = ReconstructableJob.for_file(str(flow_dir / "up.py"), "UpstreamFlow")
    with execute_job(job, instance=instance, raise_on_error=False) as first:
        assert not first.success
        first_id = first.run_id
    assert tick(sensor, instance, cursor)[0] == []
    marker.unlink()
    options = ReexecutionOptions.from_failure(first_id, instance)
    with execute_job(job, instance=instance, reexecution_options=options) as again:
        assert again.success
        assert again.run_id != first_id
    requests, cursor = tick(sensor, instance, cursor)
    metaflow_run = f"UpstreamFlow/dagster-{first_id}"
    assert [(r.run_key, r.tags["metaflow/trigger"]) for r in requests] == [
        (metaflow_run, metaflow_run)
    ]
    result = down.DownstreamFlow.execute_in_process(
        instance=instance, tags=requests[0].tags, run_config=requests[0].run_config
    )
    assert result.success
    assert start_artifacts(flow_dir, result)["seen"]["run"] == metaflow_run


# ---------------------------------------------------------------------------------
# @trigger(event=...)


def test_event_payload_maps_to_parameters(flow_dir: Path, instance: Any) -> None:
    create(copy_flow("event_flow.py", flow_dir), "defs.py")
    module = load_module(flow_dir / "defs.py")
    # Parameter names are case-insensitive in the mapping, as in Metaflow.
    assert module.FLOW.trigger_events == {
        "mfd.data_ready": {"size": "rows", "label": "tag"}
    }
    [sensor] = triggering(module.defs.get_repository_def().sensor_defs)
    assert sensor.name == "EventFlow_on_events"
    assert sensor.default_status == DefaultSensorStatus.RUNNING

    publish(instance, "mfd.data_ready", rows=99, tag="too early")
    requests, cursor = tick(sensor, instance, None)
    assert requests == []

    publish(instance, "mfd.data_ready", rows=7, tag="fresh batch", extra="ignored")
    publish(instance, "mfd.other_event", rows=1)
    publish(instance, "mfd.data_ready", rows="12")
    requests, cursor = tick(sensor, instance, cursor)
    assert [r.run_config for r in requests] == [
        {"ops": {"op_start": {"config": {"size": 7, "label": "fresh batch"}}}},
        # A missing field leaves the parameter at its default; "12" becomes an int.
        {"ops": {"op_start": {"config": {"size": 12}}}},
    ]
    events = json.loads(requests[0].tags["metaflow/events"])
    assert [e["name"] for e in events] == ["mfd.data_ready"]
    assert requests[0].run_key != requests[1].run_key
    assert tick(sensor, instance, cursor)[0] == []

    result = module.EventFlow.execute_in_process(
        instance=instance, run_config=requests[0].run_config, tags=requests[0].tags
    )
    assert result.success
    assert start_artifacts(flow_dir, result)["values"] == {
        "size": 7,
        "label": "fresh batch",
        "ratio": 0.5,
        "blob": {"k": 1},
    }


def test_single_event_without_mapping_maps_every_parameter(
    flow_dir: Path, instance: Any
) -> None:
    create(copy_flow("auto_event_flow.py", flow_dir), "defs.py")
    module = load_module(flow_dir / "defs.py")
    assert module.FLOW.trigger_events == {
        "mfd.auto": {"Width": "width", "depth": "depth"}
    }
    [sensor] = triggering(module.defs.sensors)
    _, cursor = tick(sensor, instance, None)
    publish(instance, "mfd.auto", width=4, depth="7.5")
    [request], _ = tick(sensor, instance, cursor)
    assert request.run_config == {
        "ops": {"op_start": {"config": {"Width": 4, "depth": 7.5}}}
    }


def test_several_events_wait_for_each_other(flow_dir: Path, instance: Any) -> None:
    create(copy_flow("multi_event_flow.py", flow_dir), "defs.py")
    module = load_module(flow_dir / "defs.py")
    [sensor] = triggering(module.defs.sensors)
    _, cursor = tick(sensor, instance, None)
    publish(instance, "mfd.left")
    requests, cursor = tick(sensor, instance, cursor)
    assert requests == []
    publish(instance, "mfd.right", n=5)
    [request], cursor = tick(sensor, instance, cursor)
    assert request.run_config == {"ops": {"op_start": {"config": {"count": 5}}}}
    names = [e["name"] for e in json.loads(request.tags["metaflow/events"])]
    assert names == ["mfd.left", "mfd.right"]
    # Both were used: one more right event alone starts nothing.
    publish(instance, "mfd.right", n=6)
    assert tick(sensor, instance, cursor)[0] == []


def test_trigger_attributes_we_cannot_honour_are_refused(flow_dir: Path) -> None:
    flow = copy_flow("bad_trigger_flow.py", flow_dir)
    proc = create(flow, "defs.py", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "flow BadTriggerFlow, decorator @trigger:" in out
    assert "to parameter 'missing', which the flow does not have" in out
    assert "options reset_at are specific to Argo Events" in out
    assert not (flow_dir / "defs.py").exists()


def test_a_dagster_op_can_publish_an_event(flow_dir: Path, instance: Any) -> None:
    """The other documented way to publish: an asset materialization from any op."""

    @op
    def announce(context) -> None:  # type: ignore[no-untyped-def]
        context.log_event(
            AssetMaterialization(
                asset_key=AssetKey(["metaflow_event", "mfd.data_ready"]),
                metadata={"rows": 3},
            )
        )

    @job
    def publisher() -> None:
        announce()

    create(copy_flow("event_flow.py", flow_dir), "defs.py")
    [sensor] = triggering(load_module(flow_dir / "defs.py").defs.sensors)
    _, cursor = tick(sensor, instance, None)
    assert publisher.execute_in_process(instance=instance).success
    [request], _ = tick(sensor, instance, cursor)
    assert request.run_config == {"ops": {"op_start": {"config": {"size": 3}}}}
