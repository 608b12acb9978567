"""An artifact that is an array or a data frame shows its shape and dtypes on its
asset (issue #17, part 3), in Dagster's own keys where it has them, when numpy and
pandas import in the run's process; one too large is never loaded for it. (Not in the
oldest-pair subset: that environment has neither library.)"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import compile_flow, native_run, run_cli
from dagster import AssetKey, DagsterInstance
from test_assets import _materializations

# Read in the flow's directory (its datastore) by the Metaflow client.
NATIVE_SHAPES = """
import json, sys
from metaflow import Run, namespace
namespace(None)
end = Run(sys.argv[1]).end_task
print(json.dumps({
    name: [str(end[name].data.shape), str(getattr(end[name].data, "dtype", ""))]
    for name in ("matrix", "frame", "series")
} | {"columns": [[str(c), str(t)] for c, t in end["frame"].data.dtypes.items()]}))
"""


def test_arrays_and_frames_show_shape_and_dtypes(
    flow_dir: Path, tmp_path: Path
) -> None:
    flow, module = compile_flow("frames_flow.py", flow_dir)
    home = tmp_path / "home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        assert module.FramesFlow.execute_in_process(instance=instance).success
        metadata = {}
        for name in ("matrix", "frame", "series", "big"):
            [event] = _materializations(instance, AssetKey(["FramesFlow", name]))
            materialization = event.dagster_event.event_specific_data.materialization
            metadata[name] = materialization.metadata
    # What a native run's end task holds: the oracle for the shapes shown.
    pathspec = native_run(flow)
    native = json.loads(run_cli(["-c", NATIVE_SHAPES, pathspec], cwd=flow_dir).stdout)

    assert metadata["matrix"]["type"].value == "numpy.ndarray"
    assert [metadata["matrix"][k].value for k in ("shape", "dtype")] == native["matrix"]
    assert native["matrix"] == ["(3, 4)", "float64"]
    assert "value" not in metadata["matrix"]

    assert metadata["frame"]["shape"].value == native["frame"][0] == "(3, 2)"
    assert metadata["frame"]["dagster/row_count"].value == 3
    schema = metadata["frame"]["dagster/column_schema"].value
    assert [[c.name, c.type] for c in schema.columns] == native["columns"]
    assert [c.name for c in schema.columns] == ["count", "label"]

    assert [metadata["series"][k].value for k in ("shape", "dtype")] == native["series"]
    assert native["series"] == ["(2,)", "float64"]

    # 24 MB pickled: its type and size only, never loaded.
    assert metadata["big"]["type"].value == "numpy.ndarray"
    assert metadata["big"]["size (bytes, pickled)"].value > 16 * 2**20
    assert "shape" not in metadata["big"] and "dtype" not in metadata["big"]
