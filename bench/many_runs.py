"""Many runs at once (issue #18, part 2): N runs of a generated linear-3 job launched
together through `dagster dev` (GraphQL `launchRun`, as the UI), on a PostgreSQL
instance with Dagster's default (queued) run coordinator, next to N native
`python linear3.py run` started together, in one invocation.

    .venv/bin/python bench/many_runs.py [--runs N] [--out DIR]

Reported for each side: the wall time from the first launch to the last run's end, the
peak RSS of all their processes (for ours: `dagster dev`'s whole tree: webserver,
daemon, code servers, run workers and tasks), and the checks: every run succeeded,
N distinct Metaflow runs, each with exactly one task per step (none lost, none
duplicated), read back with the Metaflow client. Writes DIR/results.md and
DIR/results.json (default bench/results/many_runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(BENCH))

from latency import free_port, serve  # noqa: E402
from machine import machine  # noqa: E402
from services import LAUNCH, STATUSES, GraphQL, postgres_database  # noqa: E402

JOB = "Linear3Flow"
STEPS = ("start", "middle", "end")
PAGE = os.sysconf("SC_PAGE_SIZE")

READ_RUNS = r"""
import json, sys
from metaflow import Flow, namespace
namespace(None)
out = {}
for run in Flow(sys.argv[1]):
    out[run.id] = {"ok": run.successful,
                   "tasks": {s.id: len(list(s)) for s in run}}
print(json.dumps(out))
"""


def tree_rss(roots: list[int]) -> int:
    """Bytes of RSS of `roots` and all their descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE
    total, todo = 0, list(roots)
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


class Peak(threading.Thread):
    """The largest tree_rss of `roots()` seen, sampled every 0.2 s."""

    def __init__(self, roots) -> None:
        super().__init__(daemon=True)
        self.roots, self.peak, self.done = roots, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.peak = max(self.peak, tree_rss(self.roots()))


def read_runs(work: Path, flow: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", READ_RUNS, flow],
        cwd=work, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check(runs: dict, expected: int) -> str:
    one_each = dict.fromkeys(STEPS, 1)
    good = [r for r in runs.values() if r["ok"] and r["tasks"] == one_each]
    if len(runs) == expected and len(good) == expected:
        return f"{expected} distinct runs, each one task per step"
    return f"FAILED: {len(runs)} runs, {len(good)} complete with one task per step"


def ours(root: Path, runs: int) -> dict:
    work, home = root / "ours", root / "home"
    work.mkdir()
    home.mkdir()
    shutil.copy(BENCH / "flows" / "linear3.py", work)
    subprocess.run(
        [sys.executable, "linear3.py", "--no-pylint", "dagster", "create",
         "linear3_dagster.py"], cwd=work, check=True, capture_output=True,
    )  # fmt: skip
    with postgres_database("many_runs") as database:
        (home / "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\n"
            "storage:\n  postgres:\n    postgres_url:\n"
            "      env: DAGSTER_POSTGRES_URL\n"
        )
        os.environ["DAGSTER_POSTGRES_URL"] = database
        port = free_port()
        proc = serve(work, home, port, ["linear3_dagster.py"])
        graphql = GraphQL(port)
        params = {
            "selector": {
                "repositoryLocationName": "linear3_dagster.py",
                "repositoryName": "__repository__",
                "jobName": JOB,
            },
            "runConfigData": {},
        }
        peak = Peak(lambda: [proc.pid])
        peak.start()
        try:
            start = time.monotonic()
            ids = []
            for _ in range(runs):
                reply = graphql(LAUNCH, {"params": params})["launchRun"]
                assert reply["__typename"] == "LaunchRunSuccess", reply
                ids.append(reply["run"]["runId"])
            launched = time.monotonic() - start
            while True:
                result = graphql(STATUSES, {"ids": ids})["runsOrError"]["results"]
                statuses = [r["status"] for r in result]
                if all(s in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses):
                    break
                time.sleep(0.5)
            wall = time.monotonic() - start
        finally:
            peak.done.set()
            peak.join()
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {
        "wall_s": wall,
        "launch_s": launched,
        "peak_rss_mib": peak.peak / 2**20,
        "succeeded": statuses.count("SUCCESS"),
        "check": check(read_runs(work, "Linear3Flow"), runs),
    }


def native(root: Path, runs: int) -> dict:
    work = root / "native"
    work.mkdir()
    shutil.copy(BENCH / "flows" / "linear3.py", work)
    env = {**os.environ, "METAFLOW_USER": os.environ.get("METAFLOW_USER", "tester")}
    procs: list[subprocess.Popen[bytes]] = []
    peak = Peak(lambda: [p.pid for p in procs])
    peak.start()
    start = time.monotonic()
    for _ in range(runs):
        procs.append(
            subprocess.Popen(
                [sys.executable, "linear3.py", "--no-pylint", "run"],
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        )
    codes = [p.wait() for p in procs]
    wall = time.monotonic() - start
    peak.done.set()
    peak.join()
    return {
        "wall_s": wall,
        "launch_s": None,
        "peak_rss_mib": peak.peak / 2**20,
        "succeeded": codes.count(0),
        "check": check(read_runs(work, "Linear3Flow"), runs),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--out", default=str(BENCH / "results" / "many_runs"))
    opts = parser.parse_args(argv)
    facts = machine()
    with tempfile.TemporaryDirectory(prefix="mfd-bench-many-") as root:
        results = {
            "native": native(Path(root), opts.runs),
            "ours": ours(Path(root), opts.runs),
        }
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"machine": facts, "runs": opts.runs, "results": results}, indent=2)
        + "\n"
    )
    lines = [
        "# Many runs at once (bench/many_runs.py)",
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, Python {facts['python']}; "
        f"load before: {', '.join(f'{x:.2f}' for x in facts['load_before'])}. "
        f"{opts.runs} runs of a linear-3 flow started together: natively "
        f"(`python linear3.py run` x {opts.runs}), and ours through one `dagster dev` "
        "(PostgreSQL instance, Dagster's default queued run coordinator), launched "
        "by GraphQL `launchRun` one after another as fast as it answers.",
        "",
        "| side | runs succeeded | wall, first launch to last end (s) | "
        "launching all (s) | peak RSS (MiB) | checked |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for side, r in results.items():
        launch = "-" if r["launch_s"] is None else f"{r['launch_s']:.1f}"
        lines.append(
            f"| {side} | {r['succeeded']}/{opts.runs} | {r['wall_s']:.1f} | {launch} "
            f"| {r['peak_rss_mib']:.0f} | {r['check']} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
