"""Benchmark: native Metaflow vs the published metaflow-dagster vs ours.

Started by `bench/run.sh` (see bench/README.md). Standard library only (Linux): the
process tree's RSS is sampled from /proc (psutil is in neither venv).

For every repetition, every flow and every runner (runners interleaved, their order
rotated each repetition) it:
  1. makes a fresh run directory (its own `.metaflow` datastore) with the flow file,
  2. for the Dagster runners, times `python flow.py dagster create defs.py`
     (a refusal by the compiler is recorded as "unsupported"),
  3. times the run from the outside (wall clock, CPU of the whole tree, peak RSS of the
     whole tree sampled every 0.1 s),
  4. checks it with the Metaflow client (`Run.successful`, every expected task there).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
FLOWS_DIR = BENCH / "flows"
DRIVER = BENCH / "driver.py"
OURS_PY = REPO / ".venv" / "bin" / "python"
PUB_PY = BENCH / ".venv-published" / "bin" / "python"
PYCACHE = BENCH / ".pycache"


@dataclass(frozen=True)
class Flow:
    key: str
    file: str
    cls: str
    tasks: int  # tasks the Metaflow client must find in a complete run
    small: bool


FLOWS = [
    Flow("linear10", "linear10.py", "Linear10Flow", 10, True),
    Flow("branch8", "branch8.py", "Branch8Flow", 11, True),
    Flow("switchloop20", "switchloop20.py", "SwitchLoop20Flow", 22, True),
    Flow("foreach100", "foreach100.py", "Foreach100Flow", 103, False),
    Flow("nested10x10", "nested10x10.py", "Nested10x10Flow", 123, False),
    Flow("foreach1000", "foreach1000.py", "Foreach1000Flow", 1003, False),
    # Only when named (`--flows`): about an hour of CPU for native alone here.
    Flow("foreach10000", "foreach10000.py", "Foreach10000Flow", 10003, False),
]
DEFAULT_FLOWS = [f.key for f in FLOWS if f.key != "foreach10000"]
WARMUP = Flow("warmup", "warmup.py", "WarmupFlow", 2, True)


@dataclass(frozen=True)
class Runner:
    key: str
    impl: str  # native | ours | pub
    mode: str  # run | inprocess | multiprocess | job
    start_method: str | None = None
    # Extra `dagster create` options (only if this version of the package has them).
    create_options: tuple[str, ...] = ()

    @property
    def python(self) -> Path:
        return PUB_PY if self.impl == "pub" else OURS_PY


RUNNERS = {
    r.key: r
    for r in [
        Runner("native", "native", "run"),
        Runner("pub-inproc", "pub", "inprocess"),
        Runner("pub-mp", "pub", "multiprocess"),
        # Ours as `create` writes it by default: ops as threads of the run's process,
        # warm task launch.
        Runner("ours", "ours", "job"),
        Runner("ours-inproc", "ours", "inprocess"),
        Runner("ours-mp", "ours", "job", None, ("--executor", "multiprocess")),
        # Ours without fast launch: the multiprocess executor, spawn, cold tasks.
        Runner("ours-mp-spawn", "ours", "job", None, ("--no-fast-launch",)),
        # Not in the default set: the published job with a preloaded fork server.
        Runner("pub-mp-forkserver", "pub", "multiprocess", "forkserver"),
    ]
}
DEFAULT_RUNNERS = ["native", "pub-inproc", "pub-mp", "ours", "ours-inproc", "ours-mp"]
# Pairs for the ours/published ratio.
PAIRS = {
    # The published package's default job executor is the multiprocess one.
    "ours": "pub-mp",
    "ours-inproc": "pub-inproc",
    "ours-mp": "pub-mp",
    "ours-mp-spawn": "pub-mp",
}
SUCCESS = ("ok", "ok-datastore")


# ---------------------------------------------------------------------------------
# Process-tree sampling


def _proc_table() -> dict[int, tuple[int, int, int, int]]:
    """pid -> (ppid, start time, rss bytes, CPU ticks) for every process, from /proc."""
    page = os.sysconf("SC_PAGE_SIZE")
    table: dict[int, tuple[int, int, int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
            # Fields after "(comm) ": state is index 0, so field N is index N - 3.
            rest = data[data.rindex(b")") + 2 :].split()
            table[int(name)] = (
                int(rest[1]),
                int(rest[19]),
                int(rest[21]) * page,
                int(rest[11]) + int(rest[12]),  # utime + stime
            )
        except (OSError, ValueError, IndexError):
            continue
    return table


def tree(root: int) -> dict[int, tuple[int, int, int]]:
    """pid -> (start time, rss bytes, CPU ticks) for `root` and its descendants."""
    table = _proc_table()
    if root not in table:
        return {}
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_) in table.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out[pid] = table[pid][1:]
            todo.extend(children.get(pid, []))
    return out


class Sampler(threading.Thread):
    """Peak RSS (sum over the process tree) and process count, every `interval` s."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_rss = 0
        self.peak_procs = 0
        self.seen: dict[int, int] = {}  # pid -> start time: identifies our processes
        self.ticks: dict[tuple[int, int], int] = {}  # (pid, start) -> CPU ticks seen
        # The root process's own ticks (Metaflow's runtime, Dagster's run process).
        self.root_ticks = 0
        self.stop = threading.Event()

    @property
    def cpu_s(self) -> float:
        """CPU time of the tree as sampled: misses each process's last < 0.1 s."""
        return sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK")

    @property
    def root_cpu_s(self) -> float:
        """CPU time of the root process alone: the work no added core can share."""
        return self.root_ticks / os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self.stop.is_set():
            procs = tree(self.root)
            for pid, (started, _, ticks) in procs.items():
                self.seen[pid] = started
                self.ticks[pid, started] = ticks
                if pid == self.root:
                    self.root_ticks = ticks
            self.peak_rss = max(self.peak_rss, sum(p[1] for p in procs.values()))
            self.peak_procs = max(self.peak_procs, len(procs))
            self.stop.wait(self.interval)

    def leftovers(self) -> list[int]:
        """Processes of this run still alive (same pid, same start time) after it."""
        table = _proc_table()
        return [
            pid
            for pid, started in self.seen.items()
            if pid != self.root and pid in table and table[pid][1] == started
        ]


def kill_tree(root: int) -> None:
    """Kill `root` and every descendant (ours starts steps in their own sessions)."""
    for pid in sorted(tree(root), reverse=True):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class Measured:
    code: int | None  # None: timed out
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_procs: int
    leftovers: int
    cpu_sampled_s: float
    root_cpu_s: float
    stdout: str
    stderr: str


def measure(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> Measured:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        sampler = Sampler(proc.pid)
        sampler.start()
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
            code = None
        wall = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()
        # Processes a run left behind must not skew the next measurement.
        leftovers = sampler.leftovers()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(
        code,
        wall,
        cpu,
        sampler.peak_rss / 2**20,
        sampler.peak_procs,
        len(leftovers),
        sampler.cpu_s,
        sampler.root_cpu_s,
        stdout,
        stderr,
    )


def bench_result(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    return None


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


ERROR_LINE = re.compile(r"^\s*[\w.]*(Error|Exception|Failure|Failed)\w*: ")


def error_summary(text: str) -> str:
    """The last `SomeError: message` line of a log, else its tail."""
    for line in reversed(text.splitlines()):
        if ERROR_LINE.match(line):
            return line.strip()
    return tail(text)


# ---------------------------------------------------------------------------------
# One measured run


class Bench:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.work = Path(opts.work).resolve()
        self.env = self._env()
        self.unsupported: dict[tuple[str, str], str] = {}
        self._create_help: dict[str, str] = {}
        self.records: list[dict[str, Any]] = []

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in list(env):
            if name.startswith(("METAFLOW_DEFAULT_", "METAFLOW_DATASTORE_SYSROOT")):
                del env[name]
        for name in ("DAGSTER_HOME", "VIRTUAL_ENV", "PYTHONPATH"):
            env.pop(name, None)
        # Metaflow refuses to run as root without a user name.
        env.setdefault("METAFLOW_USER", "bench")
        env["PYTHONUNBUFFERED"] = "1"
        if self.opts.bytecode_cache:
            # A normal install has compiled bytecode; this environment sets
            # PYTHONDONTWRITEBYTECODE and uv installs without .pyc files, so every
            # process would recompile metaflow and dagster from source. Keep .pyc files
            # in bench/.pycache instead (nothing is written into the venvs).
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env.pop("PYTHONPYCACHEPREFIX", None)
        return env

    def create_options(self, runner: Runner) -> list[str] | None:
        """Options for `dagster create`; None if this version lacks one we need.

        Ours gets `--max-workers W` when it has that option (its job then carries a
        configured executor, which run config cannot override).
        """
        if runner.impl not in self._create_help:
            probe = FLOWS_DIR / WARMUP.file
            # In a directory of its own: Metaflow may create a .metaflow in its working
            # directory, and one in the shared temp directory would become the datastore
            # of every flow below it that has none (it searches upwards).
            with tempfile.TemporaryDirectory(prefix="bench-help-") as scratch:
                helped = subprocess.run(
                    [str(runner.python), str(probe), "dagster", "create", "--help"],
                    cwd=scratch,
                    env=self.env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            self._create_help[runner.impl] = helped.stdout
        text = self._create_help[runner.impl]
        options = list(runner.create_options)
        if any(option not in text for option in options):
            return None
        if runner.impl == "ours" and "--max-workers" in text:
            options += ["--max-workers", str(self.opts.workers)]
        return options

    def run_dir(self, rep: str, flow: Flow, runner: Runner) -> Path:
        folder = self.work / rep / flow.key / runner.key
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        # Its own datastore: Metaflow looks for `.metaflow` from the working directory
        # upwards, so it must exist here before anything runs.
        (folder / ".metaflow").mkdir()
        shutil.copy(FLOWS_DIR / flow.file, folder / flow.file)
        return folder

    def one(self, rep: int | str, flow: Flow, runner: Runner) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "rep": rep,
            "flow": flow.key,
            "runner": runner.key,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if any(
            fnmatch.fnmatch(flow.key, f) and fnmatch.fnmatch(runner.key, r)
            for f, r in self.opts.skip
        ):
            rec.update(status="skipped", error="skipped by --skip")
            return rec
        if (flow.key, runner.impl) in self.unsupported:
            rec.update(
                status="unsupported", error=self.unsupported[flow.key, runner.impl]
            )
            return rec
        folder = self.run_dir(str(rep), flow, runner)
        py = str(runner.python)
        timeout = self.opts.timeout
        if runner.impl != "native":
            options = self.create_options(runner)
            if options is None:
                rec.update(
                    status="unsupported",
                    error="this version's `dagster create` has no "
                    + " ".join(runner.create_options),
                )
                return rec
            created = measure(
                [py, flow.file, "dagster", "create", "defs.py", *options],
                folder,
                self.env,
                600,
            )
            rec["create_s"] = created.wall_s
            rec["create_options"] = options
            if runner.impl == "ours":
                rec["ours_fingerprint"] = ours_fingerprint()
            if created.code != 0:
                text = tail(created.stdout + "\n" + created.stderr, 6)
                refused = "Cannot compile this flow" in text or "not supported" in text
                rec.update(status="unsupported" if refused else "create-failed")
                rec["error"] = text
                if refused:
                    self.unsupported[flow.key, runner.impl] = text
                return rec
            args = [py, str(DRIVER), runner.mode, "defs.py", flow.cls]
            if runner.mode == "multiprocess":
                args.append(str(self.opts.workers))
                if runner.start_method:
                    args.append(runner.start_method)
        else:
            args = [
                py,
                flow.file,
                "--no-pylint",
                "run",
                "--max-workers",
                str(self.opts.workers),
                "--max-num-splits",
                "20000",
            ]
        m = measure(args, folder, self.env, timeout)
        rec.update(
            wall_s=m.wall_s,
            # Rusage misses processes nobody reaps (a fork server's children): then
            # the /proc samples are the better (slightly low) figure.
            cpu_s=max(m.cpu_s, m.cpu_sampled_s),
            cpu_rusage_s=m.cpu_s,
            cpu_sampled_s=m.cpu_sampled_s,
            root_cpu_s=m.root_cpu_s,
            peak_rss_mb=m.peak_rss_mb,
            peak_procs=m.peak_procs,
            exit_code=m.code,
            leftover_procs=m.leftovers,
        )
        inner = bench_result(m.stdout)
        if inner is not None:
            rec["inner"] = inner
            if inner.get("run_s") is not None:
                rec["run_s"] = inner["run_s"]
            if inner.get("storage_mb") is not None:
                rec["storage_mb"] = inner["storage_mb"]
        if m.code is None:
            rec.update(status="timeout", error=f"killed after {timeout:.0f} s")
        elif m.code != 0 or (inner is not None and not inner.get("success")):
            rec.update(status="failed", error=error_summary(m.stderr + "\n" + m.stdout))
        else:
            rec.update(self.verify(folder, flow, runner))
        if rec["status"] not in SUCCESS:
            self.save_log(rec, m)
        if not self.opts.keep_work:
            shutil.rmtree(folder, ignore_errors=True)
        return rec

    def verify(self, folder: Path, flow: Flow, runner: Runner) -> dict[str, Any]:
        check = subprocess.run(
            [str(runner.python), str(DRIVER), "verify", flow.cls, str(flow.tasks)],
            cwd=folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        found = bench_result(check.stdout)
        if found is None:
            return {
                "status": "failed",
                "error": "verification crashed: " + tail(check.stderr),
            }
        verified = {k: found.get(k) for k in ("pathspec", "tasks", "reason")}
        if found["success"]:
            return {"status": "ok", "verify": verified}
        # The Metaflow client cannot see the run (e.g. no step metadata was
        # registered): fall back to the datastore itself, task by task.
        ds = datastore_check(folder / ".metaflow", flow)
        verified["datastore"] = ds
        if ds["ok"]:
            return {"status": "ok-datastore", "verify": verified}
        return {
            "status": "failed",
            "verify": verified,
            "error": f"client: {found.get('reason')}; datastore: {ds['reason']}",
        }

    def save_log(self, rec: dict[str, Any], m: Measured) -> None:
        logs = Path(self.opts.out) / "raw" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        name = f"{rec['rep']}-{rec['flow']}-{rec['runner']}.log"
        (logs / name).write_text(
            f"status {rec['status']}\n--- stdout (tail)\n{tail(m.stdout, 80)}\n"
            f"--- stderr (tail)\n{tail(m.stderr, 80)}\n",
            encoding="utf-8",
        )


def datastore_check(root: Path, flow: Flow) -> dict[str, Any]:
    """Every expected task finished (`<attempt>.task_end` marker) and `end` succeeded.

    Only used when the Metaflow client cannot read a run; the flows assert their own
    results, so a finished `end` task means the whole run computed the right answer.
    """
    flow_dir = root / flow.cls
    runs = [p for p in flow_dir.iterdir() if p.is_dir() and p.name not in ("data",)]
    runs = [p for p in runs if not p.name.startswith("_")]
    if len(runs) != 1:
        return {"ok": False, "reason": f"{len(runs)} runs in the datastore"}
    run = runs[0]
    tasks = 0
    for step in run.iterdir():
        if step.name.startswith("_") or not step.is_dir():
            continue
        for task in step.iterdir():
            if task.is_dir() and not task.name.startswith("_"):
                if any(task.glob("*.task_end")):
                    tasks += 1
    end_tasks = [t for t in (run / "end").iterdir() if not t.name.startswith("_")]
    success = False
    if len(end_tasks) == 1:
        success = _end_success(root, flow, run.name, end_tasks[0].name)
    ok = tasks == flow.tasks and success
    reason = (
        "" if ok else f"{tasks} finished tasks (want {flow.tasks}), end ok={success}"
    )
    return {"ok": ok, "reason": reason, "tasks": tasks, "run": run.name}


def _end_success(root: Path, flow: Flow, run_id: str, task_id: str) -> bool:
    """The `_success` artifact of the end task, read from the datastore files."""
    task = root / flow.cls / run_id / "end" / task_id
    attempts = sorted(task.glob("*.data.json"))
    if not attempts:
        return False
    objects = json.loads(attempts[-1].read_text()).get("objects", {})
    key = objects.get("_success")
    if not key:
        return False
    blob = root / flow.cls / "data" / key[:2] / key
    import gzip
    import pickle

    raw = blob.read_bytes()
    try:
        raw = gzip.decompress(raw)
    except OSError:
        pass
    return pickle.loads(raw) is True  # noqa: S301 - our own datastore


# ---------------------------------------------------------------------------------
# Summary


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(records: list[dict[str, Any]], flows: list[Flow], runners: list[str]):
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        by.setdefault((r["flow"], r["runner"]), []).append(r)
    rows = []
    for flow in flows:
        native = {r["rep"]: r for r in by.get((flow.key, "native"), [])}
        for runner in runners:
            recs = by.get((flow.key, runner), [])
            ok = [r for r in recs if r["status"] in SUCCESS]
            statuses = sorted({r["status"] for r in recs})
            row: dict[str, Any] = {
                "flow": flow.key,
                "runner": runner,
                "runs": len(recs),
                "ok": len(ok),
                "statuses": statuses,
                "status": summary_status(recs),
                "wall_s": med([r["wall_s"] for r in ok]),
                "wall_min_s": min((r["wall_s"] for r in ok), default=None),
                "wall_max_s": max((r["wall_s"] for r in ok), default=None),
                "cpu_s": med([r["cpu_s"] for r in ok if r.get("cpu_s") is not None]),
                # CPU ÷ wall: how many cores the runner kept busy on average.
                "cores_used": med(
                    [r["cpu_s"] / r["wall_s"] for r in ok if r.get("cpu_s")]
                ),
                "run_s": med([r["run_s"] for r in ok if r.get("run_s") is not None]),
                # The root process's CPU (Metaflow's runtime; the Dagster run's process,
                # whose threads are ours' ops) per task: serialized, whatever the cores.
                "serial_ms_per_task": med(
                    [
                        1000 * r["root_cpu_s"] / flow.tasks
                        for r in ok
                        if "root_cpu_s" in r
                    ]
                ),
                "root_cpu_s": med([r["root_cpu_s"] for r in ok if "root_cpu_s" in r]),
                "cpu_ms_per_task": med(
                    [1000 * r["cpu_s"] / flow.tasks for r in ok if r.get("cpu_s")]
                ),
                "wall_ms_per_task": med([1000 * r["wall_s"] / flow.tasks for r in ok]),
                "storage_mb": med([r["storage_mb"] for r in ok if "storage_mb" in r]),
                "peak_rss_mb": med([r["peak_rss_mb"] for r in ok]),
                "peak_procs": med([r["peak_procs"] for r in ok]),
                "create_s": med([r["create_s"] for r in recs if "create_s" in r]),
            }
            ratios = [
                r["wall_s"] / native[r["rep"]]["wall_s"]
                for r in ok
                if r["rep"] in native and native[r["rep"]]["status"] in SUCCESS
            ]
            row["ratio_native"] = med(ratios)
            # The Dagster run alone (start to success) against native's whole process.
            row["run_ratio_native"] = med(
                [
                    r["run_s"] / native[r["rep"]]["wall_s"]
                    for r in ok
                    if r.get("run_s") is not None
                    and r["rep"] in native
                    and native[r["rep"]]["status"] in SUCCESS
                ]
            )
            good_native = {
                rep: r for rep, r in native.items() if r["status"] in SUCCESS
            }
            row["cpu_ratio_native"] = ratio_of(ok, good_native, "cpu_s")
            pair = PAIRS.get(runner)
            if pair:
                theirs = {
                    r["rep"]: r
                    for r in by.get((flow.key, pair), [])
                    if r["status"] in SUCCESS
                }
                row["ratio_pub"] = ratio_of(ok, theirs, "wall_s")
                row["cpu_ratio_pub"] = ratio_of(ok, theirs, "cpu_s")
            errors = [
                r.get("error", "")
                for r in recs
                if r["status"] not in (*SUCCESS, "skipped")
            ]
            if errors:
                row["error"] = errors[0]
            rows.append(row)
    return rows


def ratio_of(
    mine: list[dict[str, Any]], theirs: dict[Any, dict[str, Any]], key: str
) -> float | None:
    """Median over repetitions of mine[key] / theirs[key] (same repetition)."""
    return med(
        [
            r[key] / theirs[r["rep"]][key]
            for r in mine
            if r["rep"] in theirs
            and r.get(key) is not None
            and theirs[r["rep"]].get(key)
        ]
    )


def summary_status(recs: list[dict[str, Any]]) -> str:
    if not recs:
        return "not run"
    statuses = [r["status"] for r in recs]
    if all(s == "unsupported" for s in statuses):
        return "unsupported"
    if all(s == "skipped" for s in statuses):
        return "skipped"
    good = sum(s in SUCCESS for s in statuses)
    label = "ok" if all(s == "ok" for s in statuses) else ""
    if not label:
        if good == len(statuses):
            label = "ok (datastore only)"
        else:
            bad = sorted({s for s in statuses if s not in SUCCESS})
            label = f"{len(statuses) - good}/{len(statuses)} " + "/".join(bad)
    return label


def fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return "—" if value is None else pattern.format(value)


def markdown(results: dict[str, Any]) -> str:
    facts = results["machine"]
    opts = results["options"]
    cache = (
        "on (PYTHONPYCACHEPREFIX=bench/.pycache)"
        if opts["bytecode_cache"]
        else "off (every process compiles metaflow and dagster from source)"
    )
    command = "bash bench/run.sh" + (" --quick" if opts["quick"] else "")
    lines = [
        "# metaflow-dagster benchmark results",
        "",
        f"Generated {results['finished']} by `{command}` ({opts['reps']} "
        "repetition(s), runners interleaved, their order rotated each repetition; "
        f"{results['duration_s'] / 60:.0f} min). Times are medians over the "
        "repetitions; ratios are medians of per-repetition ratios.",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['cores']} cores "
        f"({facts.get('cores_allowed', facts['cores'])} allowed to this run); "
        f"memory {facts['memory_gb']} GiB; {facts['os']}",
        f"- Python: {facts['python']}",
        f"- ours: metaflow-dagster {facts['ours_version']} (git {facts['git']}; "
        f"runtime+bundle sha256 {facts.get('ours_fingerprint', '?')}), "
        f"metaflow {facts['ours_metaflow']}, dagster {facts['ours_dagster']}",
        f"- published: metaflow-dagster {facts['pub_version']} (PyPI), "
        f"metaflow {facts['pub_metaflow']}, dagster {facts['pub_dagster']}",
        f"- concurrency: native `--max-workers {opts['workers']}`, Dagster "
        f"multiprocess executor `max_concurrent: {opts['workers']}`; the in-process "
        "executor runs one op at a time",
        f"- bytecode cache: {cache}",
        "- ours measured (sha256 of runtime/, cli.py, compiler bundle): "
        + ", ".join(results.get("ours_fingerprints", []) or ["?"])
        + (
            " (ours changed while the benchmark ran: compare with care)"
            if len(results.get("ours_fingerprints", [])) > 1
            else ""
        ),
        "- not run (--skip): " + (", ".join(opts.get("skip", [])) or "nothing"),
        f"- load average (1 min) at start / end: {facts['load_start']} / "
        f"{facts['load_end']} (other work on the machine inflates wall times; CPU "
        "seconds and ratios are more robust)",
        f"- RSS sampler: {facts['sampler']}, every 0.1 s, sum of RSS over the process "
        "tree (shared pages counted once per process)",
        "",
        "## Per flow and runner",
        "",
        "CPU s: user + system time of the whole process tree (the larger of "
        "RUSAGE_CHILDREN and the sum of /proc samples, which also sees processes "
        "nobody reaps, such as a fork server's children). Cores used: CPU s ÷ wall "
        "s, the cores the runner kept busy on average (bench/README.md: what limits "
        "each runner's parallelism).",
        "",
        "| flow | runner | status | wall s | min–max | wall × native "
        "| wall ours/pub | CPU s | CPU × native | CPU ours/pub | cores used "
        "| peak RSS MiB | peak procs | Dagster run s | run × native |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["summary"]:
        spread = (
            "—"
            if row["wall_min_s"] is None
            else f"{row['wall_min_s']:.1f}–{row['wall_max_s']:.1f}"
        )
        cells = [
            row["flow"],
            row["runner"],
            row["status"],
            fmt(row["wall_s"]),
            spread,
            fmt(row["ratio_native"], "{:.2f}"),
            fmt(row.get("ratio_pub"), "{:.2f}"),
            fmt(row["cpu_s"]),
            fmt(row.get("cpu_ratio_native"), "{:.2f}"),
            fmt(row.get("cpu_ratio_pub"), "{:.2f}"),
            fmt(row.get("cores_used"), "{:.2f}"),
            fmt(row["peak_rss_mb"], "{:.0f}"),
            fmt(row["peak_procs"], "{:.0f}"),
            fmt(row.get("run_s")),
            fmt(row.get("run_ratio_native"), "{:.2f}"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Dagster run s: the run's own duration as Dagster records it (RUN_START to "
        "RUN_SUCCESS; only runners that go through `execute_job`), without starting "
        "the process, importing Dagster and creating the instance, which `wall s` "
        "includes; `run × native` divides it by native's whole wall time.",
        "",
        "`ok (datastore only)`: the Dagster run succeeded and every task finished in "
        "the datastore (the flows assert their own results in `end`), but the Metaflow "
        "client cannot read the run back (`Run.successful` is False, no steps listed).",
        "",
        "## Per task, what is serialized, and a projection to more cores",
        "",
        "Wall and CPU ms/task: the whole run's, divided by its tasks (flat across "
        "widths is linear cost). Run storage: what the Dagster run left in its "
        "instance (SQLite run and event log storage, compute logs).",
        "",
        "Root CPU s: CPU time of the root process alone (native: Metaflow's runtime, "
        "which starts every task and polls it; ours: the Dagster run's process, whose "
        "threads are the ops, with Dagster's event writes and step bookkeeping). No "
        "added core shares it. Projected wall at N cores: a lower bound, "
        "max(root CPU, CPU ÷ N), i.e. the rest spread perfectly over N cores.",
        "",
        "| flow | runner | wall ms/task | CPU ms/task | run storage MiB | CPU s "
        "| root CPU s | serial ms/task | projected wall, "
        f"{facts.get('cores_allowed', facts['cores'])} cores "
        "| projected wall, 16 cores |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    allowed = facts.get("cores_allowed", facts["cores"]) or 1
    for row in results["summary"]:
        if row.get("root_cpu_s") is None or row["cpu_s"] is None:
            continue
        bound = [max(row["root_cpu_s"], row["cpu_s"] / n) for n in (allowed, 16)]
        lines.append(
            f"| {row['flow']} | {row['runner']} "
            f"| {fmt(row.get('wall_ms_per_task'), '{:.0f}')} "
            f"| {fmt(row.get('cpu_ms_per_task'), '{:.0f}')} "
            f"| {fmt(row.get('storage_mb'))} | {fmt(row['cpu_s'])} "
            f"| {fmt(row['root_cpu_s'])} | {fmt(row['serial_ms_per_task'], '{:.0f}')} "
            f"| {fmt(bound[0])} | {fmt(bound[1])} |"
        )
    lines += [
        "",
        "## `dagster create` time (median, s)",
        "",
        "| flow | ours | published | ours / published |",
        "|---|---:|---:|---:|",
    ]
    for flow, c in results["create"].items():
        lines.append(
            f"| {flow} | {fmt(c['ours'], '{:.2f}')} | {fmt(c['pub'], '{:.2f}')} "
            f"| {fmt(c['ratio'], '{:.2f}')} |"
        )
    problems = [r for r in results["summary"] if r.get("error")]
    if problems:
        lines += ["", "## Failures and refusals (first message of each)", ""]
        for row in problems:
            msg = " ".join(row["error"].split())[:400]
            lines.append(f"- {row['flow']} / {row['runner']} ({row['status']}): {msg}")
    lines.append("")
    return "\n".join(lines)


def fingerprints(records: list[dict[str, Any]]) -> list[str]:
    return list(
        dict.fromkeys(r["ours_fingerprint"] for r in records if "ours_fingerprint" in r)
    )


def create_summary(records: list[dict[str, Any]], flows: list[Flow]) -> dict[str, Any]:
    out = {}
    for flow in flows:
        per = {}
        for impl in ("ours", "pub"):
            per[impl] = med(
                [
                    r["create_s"]
                    for r in records
                    if r["flow"] == flow.key
                    and RUNNERS[r["runner"]].impl == impl
                    and "create_s" in r
                    and r["status"] != "create-failed"
                ]
            )
        ratio = per["ours"] / per["pub"] if per["ours"] and per["pub"] else None
        if per["ours"] is not None or per["pub"] is not None:
            out[flow.key] = {**per, "ratio": ratio}
    return out


# ---------------------------------------------------------------------------------
# Machine facts


def versions(python: Path) -> dict[str, str]:
    code = (
        "import json, sys\nfrom importlib.metadata import version\n"
        "out = {'python': sys.version.split()[0]}\n"
        "for n in ('metaflow', 'dagster', 'metaflow-dagster'):\n"
        "    try:\n        out[n] = version(n)\n"
        "    except Exception:\n        out[n] = 'missing'\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def ours_fingerprint() -> str:
    """Hash of our runtime and compiler bundle: what a run measured, exactly."""
    digest = hashlib.sha256()
    package = REPO / "python" / "metaflow_dagster"
    parts = sorted((package / "runtime").glob("*.py"))
    parts += [package / "_compiler" / "compiler.mjs", package / "cli.py"]
    for path in parts:
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


def machine_facts() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    git = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "python"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    ours = versions(OURS_PY)
    pub = versions(PUB_PY)
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        # What this invocation may use (`taskset -c 0 bash bench/run.sh` gives 1).
        "cores_allowed": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": ours["python"],
        "ours_version": ours["metaflow-dagster"],
        "ours_metaflow": ours["metaflow"],
        "ours_dagster": ours["dagster"],
        "pub_version": pub["metaflow-dagster"],
        "pub_metaflow": pub["metaflow"],
        "pub_dagster": pub["dagster"],
        "pub_python": pub["python"],
        "git": (git or "unknown") + (" + uncommitted changes" if dirty else ""),
        # What was measured, even when the working tree changes under the benchmark.
        "ours_fingerprint": ours_fingerprint(),
        "sampler": "/proc",
        "load_start": round(os.getloadavg()[0], 2),
    }


# ---------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 repetition, small flows only",
    )
    p.add_argument("--flows", help="comma-separated flow keys (default: all)")
    p.add_argument(
        "--runners",
        help="comma-separated runners (default: " + ",".join(DEFAULT_RUNNERS) + ")",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="native --max-workers and Dagster max_concurrent (default 2 x cores)",
    )
    p.add_argument(
        "--timeout", type=float, default=1800, help="per-run limit, s (default 1800)"
    )
    p.add_argument(
        "--no-bytecode-cache",
        dest="bytecode_cache",
        action="store_false",
        help="do not keep .pyc files (every process compiles metaflow/dagster)",
    )
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated FLOW:RUNNER patterns (shell wildcards) not to run, "
        "e.g. 'foreach1000:*-mp'; recorded as skipped",
    )
    p.add_argument("--no-warmup", dest="warmup", action="store_false")
    p.add_argument("--keep-work", action="store_true", help="keep run directories")
    p.add_argument("--work", default=str(BENCH / "work"), help="run directories")
    p.add_argument("--out", default=str(BENCH / "results"), help="results directory")
    p.add_argument(
        "--resummarize",
        action="store_true",
        help="only rebuild results.md and the summary from OUT/results.json",
    )
    opts = p.parse_args(argv)
    if opts.quick:
        opts.reps = 1
    skip = []
    for item in filter(None, opts.skip.split(",")):
        flow, sep, runner = item.partition(":")
        if not sep:
            p.error(f"--skip wants FLOW:RUNNER, got {item!r}")
        skip.append((flow, runner))
    opts.skip = skip
    return opts


def resummarize(out: Path) -> None:
    """Rebuild the summary, results.md from the runs in an existing results.json."""
    results = json.loads((out / "results.json").read_text())
    flows = [f for f in FLOWS if f.key in results["options"]["flows"]]
    results["summary"] = summarize(
        results["runs"], flows, results["options"]["runners"]
    )
    results["create"] = create_summary(results["runs"], flows)
    results["ours_fingerprints"] = fingerprints(results["runs"])
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results))


def main(argv: list[str]) -> int:
    opts = parse(argv)
    if opts.resummarize:
        resummarize(Path(opts.out))
        return 0
    flows = [f for f in FLOWS if f.key in DEFAULT_FLOWS and (not opts.quick or f.small)]
    if opts.flows:
        wanted = opts.flows.split(",")
        unknown = set(wanted) - {f.key for f in FLOWS}
        if unknown:
            raise SystemExit(f"unknown flows: {sorted(unknown)}")
        flows = [f for f in FLOWS if f.key in wanted]
    runners = opts.runners.split(",") if opts.runners else list(DEFAULT_RUNNERS)
    unknown = set(runners) - set(RUNNERS)
    if unknown:
        raise SystemExit(f"unknown runners: {sorted(unknown)}")
    if "native" not in runners:
        runners.insert(0, "native")  # every ratio needs it
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    bench = Bench(opts)
    facts = machine_facts()
    started = time.time()
    log = print
    log(f"flows: {[f.key for f in flows]}; runners: {runners}; reps: {opts.reps}")

    if opts.warmup:
        log("warm-up (not measured): fills the bytecode and file caches")
        for key in runners:
            rec = bench.one("warmup", WARMUP, RUNNERS[key])
            log(f"  warmup {key}: {rec['status']} {fmt(rec.get('wall_s'))} s")

    for rep in range(opts.reps):
        for flow in flows:
            shift = rep % len(runners)
            order = runners[shift:] + runners[:shift]
            for key in order:
                rec = bench.one(rep, flow, RUNNERS[key])
                bench.records.append(rec)
                extra = ""
                if rec.get("status") not in SUCCESS:
                    extra = " " + " ".join(str(rec.get("error", "")).split())[:160]
                log(
                    f"rep {rep} {flow.key:>12} {key:>18}: {rec['status']:<12} "
                    f"wall {fmt(rec.get('wall_s')):>7} s  "
                    f"cpu {fmt(rec.get('cpu_s')):>7} s "
                    f"rss {fmt(rec.get('peak_rss_mb'), '{:.0f}'):>5} MiB "
                    f"create {fmt(rec.get('create_s'), '{:.2f}')}{extra}",
                    flush=True,
                )
                # Partial results after every run: a long one that dies (or is
                # stopped) keeps what ran before it.
                write_results(out, opts, facts, bench.records, flows, runners, started)

    write_results(out, opts, facts, bench.records, flows, runners, started)
    log(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    if not opts.keep_work:
        shutil.rmtree(bench.work, ignore_errors=True)
    return 0


def write_results(
    out: Path,
    opts: argparse.Namespace,
    facts: dict[str, Any],
    records: list[dict[str, Any]],
    flows: list[Flow],
    runners: list[str],
    started: float,
) -> None:
    facts = {**facts, "load_end": round(os.getloadavg()[0], 2)}
    results = {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "duration_s": round(time.time() - started, 1),
        "options": {
            "reps": opts.reps,
            "quick": opts.quick,
            "workers": opts.workers,
            "timeout_s": opts.timeout,
            "bytecode_cache": opts.bytecode_cache,
            "flows": [f.key for f in flows],
            "skip": [f"{f}:{r}" for f, r in opts.skip],
            "runners": runners,
        },
        "machine": facts,
        "summary": summarize(records, flows, runners),
        "create": create_summary(records, flows),
        "ours_fingerprints": fingerprints(records),
        "runs": records,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
