"""Many op threads that start at once import Metaflow once, not each on its own.

Re-executing a failed run from failure under the thread executor starts the failed
foreach splits' ops together, in a process (as `dagster dev`'s run worker) that has not
imported Metaflow: on a first run the start op imports it alone first, here a dozen
threads would import it at once. Metaflow's modules import each other in cycles, and
CPython's per-module import locks then hand some threads a partially initialised
module ("cannot import name 'FlowDataStore' from partially initialized module
'metaflow.datastore'"); without one import under one lock, most of the re-executed
ops failed so, most times.
"""

from __future__ import annotations

from pathlib import Path

from conftest import comparable, copy_flow, create, read_run
from test_done import native, run_fresh

JOB = "FaultWideResumeFlow"
WIDTH = 12
ROUNDS = 4


def test_reexecuting_a_wide_foreach_in_a_fresh_process(
    flow_dir: Path, tmp_path: Path
) -> None:
    flow = copy_flow("wide_resume_flow.py", flow_dir)
    create(flow, "defs.py")  # the default: the thread executor
    home = tmp_path / "home"
    bodies = {f"op_body[{i:02d}]" for i in range(WIDTH)}
    runs = []
    for _ in range(ROUNDS):
        (flow_dir / "fail.marker").write_text("")
        first = run_fresh(flow_dir, JOB, home, "threads")
        assert not first["success"]
        assert set(first["failures"]) == bodies
        (flow_dir / "fail.marker").unlink()
        again = run_fresh(flow_dir, JOB, home, "threads", parent=first["run_id"])
        assert again["failures"] == {}
        assert again["success"]
        assert set(again["started"]) == bodies | {"op_join", "op_end"}
        runs.append(f"{JOB}/dagster-{first['run_id']}")
    expected = native(flow, {})["run"]
    assert expected["successful"]
    for pathspec in runs:
        run = read_run(flow_dir, pathspec)
        assert run["successful"] and run["finished"]
        assert comparable(run) == comparable(expected)
        assert {t["attempt"] for t in run["steps"]["body"]} == {1}
