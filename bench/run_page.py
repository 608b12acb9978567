"""Does a wide run's page open in the Dagster UI, and how fast (issue #18: the
10,000-wide run's page in under 30 s)? Serves a run the bench kept (`bench/run.sh
--keep-work`) with `dagster dev` on its own instance and opens the run's page in
chromium (bench/run_page.mjs).

    .venv/bin/python bench/run_page.py bench/work/0/foreach10000/ours [--out DIR]

Also counts the run's events by type from the instance's event log (what the UI has to
read). Writes DIR/run_page.md, DIR/run_page.json and DIR/run_page.png (default
bench/results/width10000).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from latency import free_port, serve  # noqa: E402
from machine import machine  # noqa: E402

sys.path.insert(0, str(BENCH.parent / "tests"))
from services import stop_group  # noqa: E402


def the_run(home: Path) -> tuple[str, Path]:
    """The instance's only (or newest) run, and its event log database."""
    with sqlite3.connect(home / "history" / "runs.db") as db:
        newest = "SELECT run_id FROM runs ORDER BY id DESC LIMIT 1"
        (run_id,) = db.execute(newest).fetchone()
    return run_id, home / "history" / "runs" / f"{run_id}.db"


def event_counts(events: Path) -> dict[str, int]:
    with sqlite3.connect(events) as db:
        rows = db.execute(
            "SELECT COALESCE(dagster_event_type, 'log message'), COUNT(*)"
            " FROM event_logs GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    return {kind: n for kind, n in rows}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", help="a kept run folder (defs.py, dagster_instance/)")
    parser.add_argument("--out", default=str(BENCH / "results" / "width10000"))
    parser.add_argument("--limit", type=float, default=300, help="s per milestone")
    opts = parser.parse_args(argv)
    work = Path(opts.work).resolve()
    home = work / "dagster_instance"
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    run_id, events = the_run(home)
    counts = event_counts(events)
    steps = counts.get("STEP_SUCCESS", 0)
    node = shutil.which("node")
    if node is None:
        raise SystemExit("`node` is not on PATH (the bench's browser check needs it)")
    port = free_port()
    started = time.monotonic()
    spec_path = out / "run_page.spec.json"
    proc = serve(work, home, port, files=["defs.py"])
    serve_s = time.monotonic() - started
    try:
        spec = {
            "baseUrl": f"http://127.0.0.1:{port}",
            "runId": run_id,
            "succeededSteps": steps,
            "limitSeconds": opts.limit,
            "screenshot": str(out / "run_page.png"),
        }
        spec_path.write_text(json.dumps(spec))
        browser = subprocess.run(
            [node, str(BENCH / "run_page.mjs"), str(spec_path)],
            capture_output=True, text=True, timeout=opts.limit * 5,
        )  # fmt: skip
    finally:
        spec_path.unlink(missing_ok=True)
        stop_group(proc)
    lines = browser.stdout.strip().splitlines()
    if browser.returncode not in (0, 1) or not lines:
        raise SystemExit(f"browser check failed:\n{browser.stdout}\n{browser.stderr}")
    timings = json.loads(lines[-1])
    result = {
        "machine": machine(),
        "run_id": run_id,
        "steps": steps,
        "events": sum(counts.values()),
        "event_counts": counts,
        "event_log_mb": round(events.stat().st_size / 2**20, 1),
        "dagster_dev_load_s": round(serve_s, 1),
        "seconds_from_navigation": timings,
    }
    (out / "run_page.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "run_page.md").write_text(report(result))
    print(report(result))
    return browser.returncode


def report(result: dict) -> str:
    m = result["machine"]
    timings = result["seconds_from_navigation"]
    rows = "\n".join(f"| {k} | {v} |" for k, v in timings.items())
    kinds = "\n".join(f"| {k} | {v:,} |" for k, v in result["event_counts"].items())
    return (
        "# A wide run's page in the Dagster UI (bench/run_page.py)\n\n"
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores. Run {result['run_id']}: "
        f"{result['steps']:,} succeeded steps, {result['events']:,} events, event log "
        f"{result['event_log_mb']} MiB (SQLite). `dagster dev` loaded in "
        f"{result['dagster_dev_load_s']} s.\n\n"
        "Seconds from navigating to the run's page (browser cache warm from the runs "
        "list) until:\n\n| milestone | s |\n|---|---:|\n"
        f"{rows}\n\n(status: the status tag says Success; steps: the Gantt chart's "
        "side panel counts every succeeded step; last_event: the log shows "
        "RUN_SUCCESS, the log's end.)\n\n"
        "Events by type:\n\n| type | count |\n|---|---:|\n"
        f"{kinds}\n\n![run page](run_page.png)\n"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
