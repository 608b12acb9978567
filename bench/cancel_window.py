"""How long a cancelled run stays STARTED after dagster-celery's run launcher revoked
its Celery task: the moment in which run monitoring would take the cancel for a dead
worker and mark the run failed (README, "Running on more than one machine").

    .venv/bin/python bench/cancel_window.py [--runs N] [--out DIR]

On the deployment of tests/cluster.py (2 run-launcher workers, PostgreSQL, Redis, moto's
S3 server), N times: launch a run that holds its start step, wait until its task runs on
a worker, terminate it through GraphQL (as the UI does) while a thread reads the Celery
task's state from the result backend every millisecond; the window is from the first
read that saw REVOKED to the run's RUN_CANCELING event (both clocks this machine's).
Writes DIR/results.md and DIR/results.json (default bench/results/cancel_window).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

import sys  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
sys.path.append(str(BENCH))  # after tests/: its cluster.py, not this folder's

import redis  # noqa: E402
from cluster import Cluster, running_cluster  # noqa: E402
from machine import machine  # noqa: E402
from test_cluster import HOLD, TERMINATE, wait_for_tasks  # noqa: E402

TAGS = """
query Tags($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { tags { key value } } }
}
"""
EVENTS = """
query Events($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on MessageEvent { timestamp } } }
  }
}
"""


def watch_revoked(url: str, task_id: str, seen: dict[str, float]) -> threading.Event:
    """Read the task's state every millisecond until it is REVOKED (time in `seen`)."""
    stop = threading.Event()
    client = redis.Redis.from_url(url)
    key = f"celery-task-meta-{task_id}"

    def poll() -> None:
        while not stop.is_set():
            raw = client.get(key)
            if raw is not None and json.loads(raw).get("status") == "REVOKED":
                seen["revoked"] = time.time()
                return
            time.sleep(0.001)

    threading.Thread(target=poll, daemon=True).start()
    return stop


def one_cancel(cluster: Cluster) -> dict[str, Any]:
    run_id = cluster.launch("ClusterFlow", HOLD)
    wait_for_tasks(cluster, run_id)
    tags = cluster.graphql(TAGS, {"runId": run_id})["runOrError"]["tags"]
    task_id = next(t["value"] for t in tags if t["key"] == "dagster-celery/task_id")
    seen: dict[str, float] = {}
    stop = watch_revoked(cluster.env["DAGSTER_CELERY_BACKEND_URL"], task_id, seen)
    sent = time.time()
    reply = cluster.graphql(TERMINATE, {"runId": run_id})["terminateRun"]
    assert reply["__typename"] == "TerminateRunSuccess", reply
    status = cluster.wait(run_id, within=120)
    stop.set()
    events = cluster.graphql(EVENTS, {"runId": run_id})["logsForRun"]["events"]
    canceling = [
        float(e["timestamp"]) / 1000
        for e in events
        if e["__typename"] == "RunCancelingEvent"
    ]
    row: dict[str, Any] = {"run_id": run_id, "status": status}
    if "revoked" in seen:
        row["terminate_to_revoked_s"] = round(seen["revoked"] - sent, 4)
    if canceling and "revoked" in seen:
        row["revoked_to_canceling_s"] = round(canceling[0] - seen["revoked"], 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(BENCH / "results" / "cancel_window"))
    opts = parser.parse_args()
    host = machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cancel-window-") as tmp:
        flow = REPO / "tests" / "flows" / "cluster_flow.py"
        with running_cluster(Path(tmp), flow) as cluster:
            for _ in range(opts.runs):
                row = one_cancel(cluster)
                print(json.dumps(row), flush=True)
                rows.append(row)
    windows = [
        r["revoked_to_canceling_s"] for r in rows if "revoked_to_canceling_s" in r
    ]
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"machine": host, "rows": rows}, indent=1)
    )
    lines = [
        "# A cancelled run's window under dagster-celery's run launcher",
        "",
        f"Machine: {host['cpu']}, {host['cores']} cores; load before: "
        f"{', '.join(f'{x:.2f}' for x in host['load_before'])}. "
        f"`bench/cancel_window.py --runs {opts.runs}`.",
        "",
        "| run | status | terminate -> REVOKED (s) | REVOKED -> RUN_CANCELING (s) |",
        "|---|---|---:|---:|",
    ]
    for n, r in enumerate(rows, 1):
        lines.append(
            f"| {n} | {r['status']} | {r.get('terminate_to_revoked_s', '-')} | "
            f"{r.get('revoked_to_canceling_s', '-')} |"
        )
    if windows:
        lines += [
            "",
            f"Window: median {statistics.median(windows):.3f} s, "
            f"max {max(windows):.3f} s, over {len(windows)} cancels.",
        ]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
