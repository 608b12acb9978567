"""Launch latency (issue #18, part 3): from GraphQL `launchRun`, as the UI launches, to
the run's first step starting and to its end, for a generated linear-3 job and for a
trivial Dagster job of three no-op ops, on one `dagster dev` (one instance, Dagster's
default queued run coordinator), in one invocation, alternating the two jobs.

    .venv/bin/python bench/latency.py [--reps N] [--out DIR]

Times come from the instance's event log (each event's timestamp) against the moment
`launchRun` was sent: ENQUEUED (the run coordinator took it), START (the run worker
began executing), first STEP_START, for ours the first Metaflow command launched (the
op's "Running: ..." log line), and the run's SUCCESS. Writes DIR/results.md and
DIR/results.json (default bench/results/latency).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests"))

from services import LAUNCH, STATUSES, GraphQL  # noqa: E402

sys.path.insert(0, str(BENCH))
from machine import machine  # noqa: E402

TRIVIAL = """
from dagster import Definitions, In, Nothing, in_process_executor, job, op


@op
def first() -> None:
    pass


@op(ins={"after": In(Nothing)})
def second() -> None:
    pass


@op(ins={"after": In(Nothing)})
def third() -> None:
    pass


@job
def trivial3() -> None:
    third(after=second(after=first()))


@job(executor_def=in_process_executor)
def trivial3_inprocess() -> None:
    third(after=second(after=first()))


defs = Definitions(jobs=[trivial3, trivial3_inprocess])
"""

JOBS = {
    # job name -> its code location (the file): ours; Dagster's defaults (multiprocess
    # executor: a process per op); the same ops in the run's process, as ours run.
    "Linear3Flow": "linear3_dagster.py",
    "trivial3": "trivial_defs.py",
    "trivial3_inprocess": "trivial_defs.py",
}
LOCATIONS = sorted(set(JOBS.values()))
MILESTONES = ("enqueued", "start", "first_step", "first_task", "success")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    work: Path, home: Path, port: int, files: list[str] = LOCATIONS
) -> subprocess.Popen[bytes]:
    """`dagster dev -f <files>` in `work`, once every location loaded."""
    args = [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)]
    for file in files:
        args += ["-f", file]
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    log = (work / "dagster_dev.log").open("wb")
    proc = subprocess.Popen(
        args, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    graphql = GraphQL(port)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        try:
            reply = graphql("{ workspaceOrError { ... on Workspace { locationEntries "
                            "{ name loadStatus } } } }")  # fmt: skip
            entries = reply["workspaceOrError"]["locationEntries"]
            if len(entries) == len(files) and all(
                e["loadStatus"] == "LOADED" for e in entries
            ):
                return proc
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError("dagster dev did not load both locations:\n"
                       + (work / "dagster_dev.log").read_text()[-3000:])  # fmt: skip


def launch_and_wait(graphql: GraphQL, job: str) -> tuple[str, float]:
    params = {
        "selector": {
            "repositoryLocationName": JOBS[job],
            "repositoryName": "__repository__",
            "jobName": job,
        },
        "runConfigData": {},
    }
    sent = time.time()
    reply = graphql(LAUNCH, {"params": params})["launchRun"]
    assert reply["__typename"] == "LaunchRunSuccess", reply
    run_id = str(reply["run"]["runId"])
    while True:
        [run] = graphql(STATUSES, {"ids": [run_id]})["runsOrError"]["results"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(0.2)
    if run["status"] != "SUCCESS":
        raise RuntimeError(f"{job} run {run_id} ended {run['status']}")
    return run_id, sent


def milestones(instance: Any, run_id: str, sent: float) -> dict[str, float | None]:
    """Seconds from `sent` to each milestone of the run, from its event log."""
    from dagster import DagsterEventType as Kind

    found: dict[str, float | None] = dict.fromkeys(MILESTONES)
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        kind = event.event_type if event is not None else None
        at = entry.timestamp - sent
        if kind == Kind.RUN_ENQUEUED:
            found["enqueued"] = at
        elif kind == Kind.RUN_START:
            found["start"] = at
        elif kind == Kind.STEP_START and found["first_step"] is None:
            found["first_step"] = at
        elif kind == Kind.RUN_SUCCESS:
            found["success"] = at
        elif (
            event is None
            and found["first_task"] is None
            and entry.user_message.startswith("Running: ")
        ):
            found["first_task"] = at
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", default=str(BENCH / "results" / "latency"))
    opts = parser.parse_args(argv)
    facts = machine()
    samples: dict[str, list[dict[str, float | None]]] = {job: [] for job in JOBS}
    with tempfile.TemporaryDirectory(prefix="mfd-bench-latency-") as root:
        work, home = Path(root) / "work", Path(root) / "home"
        work.mkdir()
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        shutil.copy(BENCH / "flows" / "linear3.py", work)
        (work / "trivial_defs.py").write_text(TRIVIAL)
        subprocess.run(
            [sys.executable, "linear3.py", "--no-pylint", "dagster", "create",
             "linear3_dagster.py"], cwd=work, check=True, capture_output=True,
        )  # fmt: skip
        port = free_port()
        proc = serve(work, home, port)
        try:
            from dagster import DagsterInstance

            graphql = GraphQL(port)
            os.environ["DAGSTER_HOME"] = str(home)
            with DagsterInstance.get() as instance:
                for job in JOBS:  # unmeasured: the code servers' first run
                    launch_and_wait(graphql, job)
                for rep in range(opts.reps):
                    for job in JOBS:
                        run_id, sent = launch_and_wait(graphql, job)
                        samples[job].append(milestones(instance, run_id, sent))
                        print(rep, job, samples[job][-1], flush=True)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    medians = {
        job: {
            m: (statistics.median(v) if (v := [s[m] for s in runs if s[m] is not None])
                else None)
            for m in MILESTONES
        }
        for job, runs in samples.items()
    }  # fmt: skip
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"machine": facts, "samples": samples, "medians": medians}, indent=2)
        + "\n"
    )

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    ours = medians["Linear3Flow"]
    trivial, inprocess = medians["trivial3"], medians["trivial3_inprocess"]
    lines = [
        "# Launch latency (bench/latency.py)",
        "",
        f"Machine: {facts['cpu']}, {facts['cores']} cores, Python {facts['python']}; "
        f"load before: {', '.join(f'{x:.2f}' for x in facts['load_before'])}. "
        f"Medians of {opts.reps} runs per job, the jobs alternating, on one `dagster "
        "dev` (SQLite instance, default queued run coordinator); seconds from "
        "`launchRun` being sent.",
        "",
        "| milestone | linear-3 flow (ours) | trivial 3-op job (multiprocess, "
        "Dagster's default) | trivial, in-process executor | ours - in-process |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in MILESTONES:
        a, b, c = ours[m], trivial[m], inprocess[m]
        diff = None if a is None or c is None else a - c
        lines.append(f"| {m} | {cell(a)} | {cell(b)} | {cell(c)} | {cell(diff)} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
