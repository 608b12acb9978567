"""A flow in Dagster's asset graph (issue #17, part 1): the flow and its end step's
artifacts are assets, each successful run materializes them once, with what the
datastore says of each artifact, and @trigger_on_finish links flows in Lineage."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    compile_flow,
    native_run,
    read_run,
    run_pathspec,
)
from dagster import AssetKey, DagsterInstance, ReexecutionOptions, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob
from test_reexecution import RESUMED_FROM_FAILURE


def _materializations(instance: DagsterInstance, key: AssetKey) -> list:
    records = instance.fetch_materializations(key, limit=100).records
    return [r.event_log_entry for r in records]


def _metadata(entry) -> dict:
    materialization = entry.dagster_event.event_specific_data.materialization
    return {k: v.value for k, v in materialization.metadata.items()}


def test_end_artifacts_are_assets_as_a_native_run_holds_them(
    flow_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow, module = compile_flow("foreach_flow.py", flow_dir)
    # Declared: what the steps' source can bring to the end step (the foreach body's
    # `loud`, excluded from the merge, and `items`, not passed by `collect`, cannot).
    graph = module.defs.resolve_asset_graph()
    artifacts = {"letters", "louds", "positions", "squares"}
    flow_key = AssetKey(["ForeachFlow"])
    keys = {flow_key} | {AssetKey(["ForeachFlow", a]) for a in artifacts}
    assert set(graph.get_all_asset_keys()) == keys
    for name in artifacts:
        node = graph.get(AssetKey(["ForeachFlow", name]))
        assert node.parent_keys == {flow_key}
        assert node.group_name == "ForeachFlow"
    # The native run's end task holds exactly those artifacts (the oracle).
    native = read_run(flow_dir, native_run(flow))
    [native_end] = native["steps"]["end"]
    assert set(native_end["artifacts"]) == artifacts

    home = tmp_path / "home"
    home.mkdir()
    # The Metaflow UI's address, as METAFLOW_UI_URL gives it (read when the op runs,
    # in this process: the thread executor's).
    monkeypatch.setattr("metaflow.metaflow_config.UI_URL", "http://mf-ui.test/")
    job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ForeachFlow")
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(job, instance=instance) as result:
            assert result.success
            pathspec = run_pathspec(result)
        [flow_event] = _materializations(instance, flow_key)
        meta = _metadata(flow_event)
        assert meta["metaflow run"] == pathspec
        assert meta["metaflow ui"] == f"http://mf-ui.test/{pathspec}"
        assert set(meta["artifacts"]) == artifacts
        run = read_run(flow_dir, pathspec)
        [end] = run["steps"]["end"]
        # Each op's output links its task in the Metaflow UI too.
        [output] = [
            entry.dagster_event.event_specific_data.metadata
            for entry in instance.all_logs(flow_event.run_id)
            if entry.dagster_event is not None
            and entry.dagster_event.event_type_value == "STEP_OUTPUT"
            and entry.dagster_event.step_key == "op_end"
        ]
        task_link = f"http://mf-ui.test/{pathspec}/end/{end['id']}"
        assert output["metaflow ui"].value == task_link
        for name in artifacts:
            [event] = _materializations(instance, AssetKey(["ForeachFlow", name]))
            assert event.run_id == flow_event.run_id
            meta = _metadata(event)
            assert meta["metaflow pathspec"] == f"{pathspec}/end/{end['id']}"
            assert meta["type"] == "list"
            assert meta["value"] == repr(end["artifacts"][name])
            assert meta["value"] == repr(native_end["artifacts"][name])
            assert meta["size (bytes, pickled)"] > 0
            assert f"[{name!r}].data" in meta["retrieve"]


def test_trigger_on_finish_upstream_flows_are_upstream_assets(flow_dir: Path) -> None:
    _, module = compile_flow("downstream_flow.py", flow_dir)
    graph = module.defs.resolve_asset_graph()
    branch = "user.tester"
    own = AssetKey(["mfd_trig", branch, "DownstreamFlow"])
    upstream = AssetKey(["mfd_trig", branch, "UpstreamFlow"])
    assert graph.get(own).parent_keys == {upstream}
    assert graph.get(AssetKey(["mfd_trig", branch, "DownstreamFlow", "seen_at_end"]))


def test_reexecution_from_failure_materializes_once(
    flow_dir: Path, tmp_path: Path
) -> None:
    compile_flow("resume_flow.py", flow_dir)
    (flow_dir / "fail.marker").write_text("")
    home = tmp_path / "home"
    home.mkdir()
    job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ResumeFlow")
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(job, instance=instance, raise_on_error=False) as first:
            assert not first.success
        (flow_dir / "fail.marker").unlink()
        options = ReexecutionOptions.from_failure(first.run_id, instance)
        with execute_job(job, instance=instance, reexecution_options=options) as again:
            assert again.success
            again_id = again.run_id
        events = _materializations(instance, AssetKey(["ResumeFlow"]))
        assert [e.run_id for e in events] == [again_id]
        [total] = _materializations(instance, AssetKey(["ResumeFlow", "total"]))
        assert _metadata(total)["value"] == "63"
    executions = (flow_dir / "executions.log").read_text().splitlines()
    assert executions.count("end") == RESUMED_FROM_FAILURE["end"]


def test_no_assets_option(flow_dir: Path) -> None:
    _, module = compile_flow("foreach_flow.py", flow_dir, "--no-assets")
    assert not list(module.defs.resolve_asset_graph().get_all_asset_keys())
    _, named = compile_flow("foreach_flow.py", flow_dir, "--asset", "squares")
    keys = set(named.defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == {AssetKey(["ForeachFlow"]), AssetKey(["ForeachFlow", "squares"])}
