"""The thread executor (the default): every op a thread of the run's process, every
Metaflow task a process of its own. What the multiprocess executor gives each op for
free must still hold: its own compute logs, streamed live."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

from conftest import copy_flow, create, multiprocess_result, start_multiprocess_run
from dagster import DagsterInstance, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

Span = tuple[float, float]


def test_each_op_streams_its_own_compute_logs(flow_dir: Path, tmp_path: Path) -> None:
    flow = copy_flow("slow_print_flow.py", flow_dir)
    create(flow, "defs.py")
    assert "executor_def=thread_executor(FLOW" in (flow_dir / "defs.py").read_text()
    home = tmp_path / "h"
    run = start_multiprocess_run(flow_dir / "defs.py", "SlowPrintFlow", home)
    try:
        # The start step prints, sleeps 3 s, prints again: its first line must be in
        # its compute log (a file under the instance's storage) before the second.
        deadline = time.monotonic() + 120
        while True:
            texts = [p.read_text() for p in home.rglob("*.out")]
            if any("first line" in text for text in texts):
                break
            assert run.poll() is None, "the run ended before the step printed"
            assert time.monotonic() < deadline, "no compute log got the first line"
            time.sleep(0.05)
        assert not any("second line" in text for text in texts)
        result = multiprocess_result(run)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert result["success"]
    logs = result["step_logs"]
    assert "first line" in logs["op_start"]["stdout"]
    assert "second line" in logs["op_start"]["stdout"]
    assert "to stderr" in logs["op_start"]["stderr"]
    # Each op's logs are its own, though the ops share one process.
    assert "the end" in logs["op_end"]["stdout"]
    assert "first line" not in logs["op_end"]["stdout"]
    assert "the end" not in logs["op_start"]["stdout"]


def _body_spans(flow_dir: Path, home: Path, run_config: dict[str, Any]) -> list[Span]:
    """Run ForeachFlow through its own executor; each body op's (start, end) time."""
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ForeachFlow")
        with execute_job(job, instance=instance, run_config=run_config) as result:
            assert result.success
            records = instance.all_logs(result.run_id)
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for record in records:
        event = record.dagster_event
        if event is None or not (event.step_key or "").startswith("op_body["):
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = record.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            ends[event.step_key] = record.timestamp
    assert len(starts) == len(ends) == 4
    return sorted((starts[k], ends[k]) for k in starts)


def _overlaps(spans: list[Span]) -> bool:
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


def test_tag_concurrency_limits_hold_ops_back(flow_dir: Path, tmp_path: Path) -> None:
    """As with the multiprocess executor, run config can limit how many ops with a tag
    run at once: here the tag @resources gives every op (added with --with)."""
    flow = copy_flow("foreach_flow.py", flow_dir)
    create(flow, "defs.py", "--with", "resources:gpu=1")
    # Unlimited, the body ops overlap (so the check below can see an overlap) ...
    assert _overlaps(_body_spans(flow_dir, tmp_path / "free", {}))
    # ... and one op with a GPU at a time, they run one after another.
    limits = [{"key": "metaflow/resources.gpu", "limit": 1}]
    config = {"execution": {"config": {"tag_concurrency_limits": limits}}}
    assert not _overlaps(_body_spans(flow_dir, tmp_path / "limited", config))
