"""The thread executor (the default): every op a thread of the run's process, every
Metaflow task a process of its own. What the multiprocess executor gives each op for
free must still hold: its own compute logs, streamed live."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import copy_flow, create, multiprocess_result, start_multiprocess_run


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
