"""Benchmark beyond one machine: foreach-100 natively, under the default (thread)
executor, under dagster-celery's executor (ops on 2 workers) and under dagster-celery's
run launcher (whole runs on 2 workers), in one invocation (issue #14, part 5).

    .venv/bin/python bench/cluster.py [--reps N] [--out DIR] [--runners a,b]

Every runner uses the same services (tests/cluster.py: PostgreSQL, Redis, moto's S3
server as Metaflow's datastore) and 4 slots: native `run --max-workers 4`, the thread
executor's `--max-workers 4`, 2 Celery workers of concurrency 2. Each Dagster run is
launched through GraphQL as the UI does and timed from `launchRun` to its terminal
status (polled every 0.25 s). Writes DIR/results.md and DIR/results.json (default
bench/results/cluster).

Per-op overhead = (runner's wall - native wall) x 4 slots / 103 ops: the time each op
adds to native, as if the slots were always busy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))

from cluster import (  # noqa: E402
    CELERY_RUN_CONFIG,
    OPS_ON_WORKERS,
    WHOLE_RUNS,
    Cluster,
    running_cluster,
)

sys.path.insert(0, str(BENCH))
from machine import machine  # noqa: E402

FLOW = BENCH / "flows" / "foreach100.py"
JOB = "Foreach100Flow"
SLOTS = 4
OPS = 103


def timed_launch(cluster: Cluster, run_config: dict[str, Any]) -> float:
    start = time.monotonic()
    run_id = cluster.launch(JOB, run_config)
    while True:
        status = cluster.status(run_id)
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(0.25)
    wall = time.monotonic() - start
    if status != "SUCCESS":
        raise RuntimeError(f"run {run_id} ended {status}:\n{cluster.logs()}")
    return wall


def timed_native(cluster: Cluster) -> float:
    flow = cluster.code / FLOW.name
    args = [sys.executable, flow.name, "--no-pylint", "run"]
    args += ["--max-workers", str(SLOTS)]
    start = time.monotonic()
    subprocess.run(
        args, cwd=flow.parent, env=cluster.env, check=True, capture_output=True
    )
    return time.monotonic() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--out", default=str(BENCH / "results" / "cluster"))
    parser.add_argument(
        "--runners",
        default="threads,celery-executor,celery-launcher",
        help="which Dagster runners, comma-separated (native always runs)",
    )
    opts = parser.parse_args(argv)
    chosen = set(opts.runners.split(","))
    walls: dict[str, list[float]] = {}
    facts = machine()
    setups = [
        # (key, runner, instance, create options, run config)
        ("threads", "threads (one machine)", OPS_ON_WORKERS,
         ("--max-workers", str(SLOTS)), {}),
        ("celery-executor", "celery executor (2 workers)", OPS_ON_WORKERS,
         ("--executor", "celery"), CELERY_RUN_CONFIG),
        ("celery-launcher", "celery run launcher (2 workers)", WHOLE_RUNS,
         ("--max-workers", str(SLOTS)), {}),
    ]  # fmt: skip
    for key, runner, instance, options, run_config in setups:
        if key not in chosen:
            continue
        with (
            tempfile.TemporaryDirectory(prefix="mfd-bench-cluster-") as root,
            running_cluster(Path(root), FLOW, options, instance) as cluster,
        ):
            if not walls:  # natively, on the same services, once they are up
                walls["native"] = [timed_native(cluster) for _ in range(opts.reps)]
                print("native", walls["native"], flush=True)
            timed_launch(cluster, run_config)  # unmeasured: workers import, caches
            reps = range(opts.reps)
            walls[runner] = [timed_launch(cluster, run_config) for _ in reps]
            print(runner, walls[runner], flush=True)
    native = statistics.median(walls["native"])
    rows = []
    for runner, values in walls.items():
        median = statistics.median(values)
        per_op = (median - native) * SLOTS / OPS
        rows.append((runner, median, min(values), max(values), median / native, per_op))
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"machine": facts, "walls": walls}, indent=2) + "\n"
    )
    lines = [
        "# foreach-100 beyond one machine (bench/cluster.py)",
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, Python {facts['python']}; "
        f"load before: {', '.join(f'{x:.2f}' for x in facts['load_before'])}. "
        f"{opts.reps} measured runs per runner (after one unmeasured run); Metaflow's "
        "datastore on moto's S3 server, Dagster's storage in PostgreSQL, 4 slots.",
        "",
        "| runner | wall median (s) | min-max (s) | / native | per-op overhead (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for runner, median, low, high, ratio, per_op in rows:
        lines.append(
            f"| {runner} | {median:.1f} | {low:.1f}-{high:.1f} | {ratio:.2f} | "
            f"{per_op:+.2f} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
