"""Where does our per-task overhead go? Run with the repo's `.venv` Python.

Measures, on the linear10 flow compiled by ours:
  - bare process costs: `python -c pass`, `import metaflow`, `import dagster`, loading
    the generated definitions file (what every multiprocess op process does first);
  - in-process execution with cold tasks (`--no-fast-launch`), per op: op wall time
    (Dagster STEP_START -> STEP_SUCCESS) and the wall time of the `metaflow init` /
    `metaflow step` subprocesses it started (subprocess.Popen is wrapped), so op
    overhead = op - subprocesses;
  - the import share of one `metaflow step` subprocess (`-X importtime`);
  - `execute_job` with the job's executor (default: threads; `--executor
    multiprocess`; `--no-fast-launch`), per op: worker bootstrap (STEP_WORKER_STARTING
    -> STEP_START, multiprocess only) and op body;
  - `dagster create` split: full create vs `--ir-only` (no Node compile);
  - the floor of a warm task: the same `metaflow step` command forked from a process
    that has already imported Metaflow, with no Dagster anywhere (the launcher the
    thread executor uses, driven directly), to compare a warm op with.
Writes bench/results/profile.md and profile.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from machine import machine  # noqa: E402

import bench  # noqa: E402

SAMPLES = 5


def wall(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def median_wall(args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    times = [wall(args, cwd, env) for _ in range(SAMPLES)]
    return {"median_s": statistics.median(times), "min_s": min(times)}


def import_totals(stderr: str, top: int = 12) -> dict[str, Any]:
    """Parse `-X importtime`: total import time and the heaviest top-level imports."""
    roots: list[tuple[int, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cum_us, name = line.split(":", 1)[1].split("|", 2)
        # One space after the bar for a top-level import, two more per nesting level.
        if len(name) - len(name.lstrip(" ")) == 1:
            roots.append((int(cum_us), name.strip()))
    total = sum(c for c, _ in roots)
    heavy = sorted(roots, reverse=True)[:top]
    return {
        "total_s": total / 1e6,
        "top": [{"module": n, "cumulative_s": c / 1e6} for c, n in heavy],
    }


class TimedPopen(subprocess.Popen):  # type: ignore[type-arg]
    """Records how long each `metaflow init`/`step` subprocess lived."""

    log: list[dict[str, Any]] = []

    def __init__(self, args: Any, *a: Any, **k: Any) -> None:
        self._t0 = time.perf_counter()
        self._logged = False
        self._args = list(args) if isinstance(args, list | tuple) else [args]
        super().__init__(args, *a, **k)

    def wait(self, timeout: float | None = None) -> int:
        code = super().wait(timeout)
        if not self._logged:
            self._logged = True
            kind = next((a for a in self._args if a in ("init", "step")), None)
            if kind:
                step = "_parameters"
                if kind == "step":
                    step = self._args[self._args.index("step") + 1]
                TimedPopen.log.append(
                    {
                        "kind": kind,
                        "step": step,
                        "args": [str(a) for a in self._args],
                        "wall_s": time.perf_counter() - self._t0,
                    }
                )
        return code


def load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("profiled_defs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["profiled_defs"] = module
    spec.loader.exec_module(module)
    return module


def op_times(instance: Any, run_id: str) -> dict[str, dict[str, float]]:
    from dagster import DagsterEventType

    marks: dict[str, dict[str, float]] = defaultdict(dict)
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        kind = event.event_type_value
        if kind in (
            DagsterEventType.STEP_WORKER_STARTING.value,
            DagsterEventType.STEP_START.value,
            DagsterEventType.STEP_SUCCESS.value,
        ):
            marks[event.step_key].setdefault(kind, entry.timestamp)
    return marks


def run_job(
    folder: Path, flow: Any, py: str, env: dict[str, str], options: list[str]
) -> dict[str, Any]:
    """`execute_job` with the executor `dagster create <options>` gave the job."""
    import dagster
    from dagster import DagsterInstance
    from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

    folder.mkdir()
    (folder / ".metaflow").mkdir()
    (folder / "instance").mkdir()
    shutil.copy(bench.FLOWS_DIR / flow.file, folder / flow.file)
    subprocess.run(
        [py, flow.file, "dagster", "create", "defs.py", "--max-workers", "4", *options],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    recon = ReconstructableJob.for_file(str(folder / "defs.py"), flow.cls)
    with DagsterInstance.local_temp(tempdir=str(folder / "instance")) as inst:
        t0 = time.perf_counter()
        res = dagster.execute_job(recon, instance=inst)
        total = time.perf_counter() - t0
        assert res.success
        marks = op_times(inst, res.run_id)
    ops = []
    for key, m in sorted(marks.items(), key=lambda kv: kv[1]["STEP_START"]):
        # Ops that run as threads have no worker to start.
        starting = m.get("STEP_WORKER_STARTING")
        ops.append(
            {
                "op": key,
                "bootstrap_s": None if starting is None else m["STEP_START"] - starting,
                "op_s": m["STEP_SUCCESS"] - m["STEP_START"],
            }
        )
    return {"total_s": total, "ops": ops}


# The bench's `ours` process (driver.py, mode `job`), with a last atexit handler that
# stamps the time: what follows it is CPython's finalization (module teardown and its
# garbage collections). With `freeze`, a handler that runs just before it calls
# gc.freeze(), so finalization's collections skip every object alive at exit: the
# difference is what those collections cost (the bench itself never does this).
PHASES = """
import atexit, sys, time
atexit.register(lambda: print("PHASE-ATEXIT", time.time(), file=sys.stderr, flush=True))
if sys.argv[1] == "freeze":
    import gc
    atexit.register(gc.freeze)
sys.path.insert(0, sys.argv[2])
import driver
driver.main(["job", "defs.py", sys.argv[3]])
"""


def process_phases(
    folder: Path, flow: Any, py: str, env: dict[str, str], variant: str
) -> dict[str, Any]:
    """Where the whole process's wall time goes, for linear10 as the bench runs it."""
    samples = []
    for _ in range(SAMPLES):
        for old in ("dagster_instance", ".metaflow"):
            shutil.rmtree(folder / old, ignore_errors=True)
        (folder / ".metaflow").mkdir()
        started = time.time()
        proc = subprocess.run(
            [py, "-c", PHASES, variant, str(BENCH), flow.cls],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        ended = time.time()
        inner = bench.bench_result(proc.stdout)
        assert inner is not None and inner["success"], proc.stderr[-2000:]
        stamp = next(
            float(line.split()[1])
            for line in proc.stderr.splitlines()
            if line.startswith("PHASE-ATEXIT ")
        )
        wall_s = ended - started
        exit_s = ended - stamp
        samples.append(
            {
                "wall_s": wall_s,
                "load_s": inner["load_s"],
                "execute_s": inner["execute_s"],
                "run_s": inner["run_s"],
                "exit_s": exit_s,
                # Interpreter start, the driver's own imports, the report line.
                "rest_s": wall_s - exit_s - inner["load_s"] - inner["execute_s"],
            }
        )
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]} | {
        "samples": samples
    }


def floor_task(args: list[str], folder: Path, env: dict[str, str]) -> dict[str, Any]:
    """The same `step` command as a child of a launcher (a process that imported
    Metaflow and nothing of Dagster), from asking for it to its exit; the first sample,
    which starts the launcher, is dropped."""
    from metaflow_dagster.runtime.launcher import launch_warm

    at = args.index("--task-id") + 1
    walls = []
    for sample in range(SAMPLES + 1):
        task_args = [*args]
        task_args[at] = f"floor-{sample}"
        t0 = time.perf_counter()
        task = launch_warm(task_args, str(folder), env)
        task.stdout.read()
        task.stderr.read()
        code = task.wait()
        walls.append(time.perf_counter() - t0)
        task.stdout.close()
        task.stderr.close()
        assert code == 0, f"floor task exited {code}"
    return {"median_s": statistics.median(walls[1:]), "samples_s": walls[1:]}


def main() -> None:
    opts = bench.parse(["--quick", *sys.argv[1:]])
    env = bench.Bench(opts).env
    os.environ.clear()
    os.environ.update(env)
    work = Path(tempfile.mkdtemp(prefix="mfbench-profile-"))
    py = str(bench.OURS_PY)
    out: dict[str, Any] = {
        "samples": SAMPLES,
        "bytecode_cache": opts.bytecode_cache,
        "machine": machine(),
    }
    try:
        flow = next(f for f in bench.FLOWS if f.key == "linear10")
        folder = work / "inproc"
        folder.mkdir()
        (folder / ".metaflow").mkdir()
        shutil.copy(bench.FLOWS_DIR / flow.file, folder / flow.file)
        out["create_full"] = median_wall(
            [py, flow.file, "dagster", "create", "defs.py"], folder, env
        )
        out["create_ir_only"] = median_wall(
            [py, flow.file, "dagster", "create", "ir.json", "--ir-only"], folder, env
        )
        out["python_pass"] = median_wall([py, "-c", "pass"], folder, env)
        out["import_metaflow"] = median_wall([py, "-c", "import metaflow"], folder, env)
        out["import_dagster"] = median_wall([py, "-c", "import dagster"], folder, env)
        load_code = (
            "import importlib.util as u; "
            "s = u.spec_from_file_location('d', 'defs.py'); "
            "m = u.module_from_spec(s); s.loader.exec_module(m)"
        )
        out["load_defs"] = median_wall([py, "-c", load_code], folder, env)
        out["load_defs_and_metaflow_datastore"] = median_wall(
            [py, "-c", load_code + "; import metaflow.datastore, metaflow.plugins"],
            folder,
            env,
        )
        no_cache = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
        no_cache.pop("PYTHONPYCACHEPREFIX", None)
        out["no_bytecode_cache"] = {
            "import_metaflow": median_wall(
                [py, "-c", "import metaflow"], folder, no_cache
            ),
            "import_dagster": median_wall(
                [py, "-c", "import dagster"], folder, no_cache
            ),
        }

        # In-process run with every subprocess timed.
        from dagster import DagsterInstance

        # Cold tasks (each a `metaflow step` subprocess), so that the op's own time
        # can be told from its task's.
        subprocess.run(
            [py, flow.file, "dagster", "create", "cold.py", "--no-fast-launch"],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.Popen = TimedPopen  # type: ignore[misc]
        module = load(folder / "cold.py")
        instance = DagsterInstance.ephemeral()
        t0 = time.perf_counter()
        result = getattr(module, flow.cls).execute_in_process(instance=instance)
        total = time.perf_counter() - t0
        subprocess.Popen = TimedPopen.__mro__[1]  # type: ignore[misc]
        assert result.success
        marks = op_times(instance, result.run_id)
        children: dict[str, float] = defaultdict(float)
        for entry in TimedPopen.log:
            op = "op_start" if entry["kind"] == "init" else "op_" + entry["step"]
            children[op] += entry["wall_s"]
        ops = []
        for key, m in sorted(marks.items(), key=lambda kv: kv[1]["STEP_START"]):
            op_s = m["STEP_SUCCESS"] - m["STEP_START"]
            ops.append(
                {
                    "op": key,
                    "op_s": op_s,
                    "subprocess_s": children.get(key, 0.0),
                    "overhead_s": op_s - children.get(key, 0.0),
                }
            )
        out["inprocess"] = {
            "total_s": total,
            "ops": ops,
            "sum_op_s": sum(o["op_s"] for o in ops),
            "sum_subprocess_s": sum(o["subprocess_s"] for o in ops),
            "subprocesses": [
                {k: e[k] for k in ("kind", "step", "wall_s")} for e in TimedPopen.log
            ],
        }

        # One `metaflow step` again (new task id), plain and with -X importtime.
        step_args = next(e["args"] for e in TimedPopen.log if e["step"] == "s4")
        at = step_args.index("--task-id") + 1
        again = [*step_args]
        again[at] = "profile"
        out["step_subprocess"] = median_wall(again, folder, env)
        out["step_floor"] = floor_task(step_args, folder, env)
        proc = subprocess.run(
            [again[0], "-X", "importtime", *again[1:]],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        out["step_imports"] = import_totals(proc.stderr)
        proc = subprocess.run(
            [py, "-X", "importtime", "-c", load_code],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        out["defs_imports"] = import_totals(proc.stderr)

        # The whole process as the bench's `ours` runner is timed, in phases.
        phases = work / "phases"
        phases.mkdir()
        shutil.copy(bench.FLOWS_DIR / flow.file, phases / flow.file)
        subprocess.run(
            [py, flow.file, "dagster", "create", "defs.py", "--max-workers", "4"],
            cwd=phases,
            env=env,
            check=True,
            capture_output=True,
        )
        out["phases"] = {
            variant: process_phases(phases, flow, py, env, variant)
            for variant in ("plain", "freeze")
        }
        out["native_wall"] = median_wall(
            [py, flow.file, "--no-pylint", "run", "--max-workers", "4"], phases, env
        )

        # Multiprocess runs: worker bootstrap per op, for each way ours launches ops.
        helped = subprocess.run(
            [py, flow.file, "dagster", "create", "--help"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        variants = [("default", [])]
        if "--executor" in helped:
            variants.append(("--executor multiprocess", ["--executor", "multiprocess"]))
        if "--no-fast-launch" in helped:
            variants.append(("--no-fast-launch", ["--no-fast-launch"]))
        out["multiprocess"] = {}
        for name, options in variants:
            out["multiprocess"][name] = run_job(
                work / f"mp{len(out['multiprocess'])}", flow, py, env, options
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / "profile.json").write_text(json.dumps(out, indent=2) + "\n")
    (results / "profile.md").write_text(report(out))
    print(report(out))


def report(p: dict[str, Any]) -> str:
    def s(key: str) -> str:
        return f"{p[key]['median_s']:.2f}"

    inproc = p["inprocess"]
    ops = inproc["ops"]
    n = len(ops)
    med_op = statistics.median(o["op_s"] for o in ops)
    med_sub = statistics.median(o["subprocess_s"] for o in ops)
    med_over = statistics.median(o["overhead_s"] for o in ops)
    lines = [
        "# Where our per-task time goes (linear10, ours)",
        "",
        f"Medians of {p['samples']} samples unless noted; bytecode cache "
        f"{'on' if p['bytecode_cache'] else 'off'}. Machine: "
        + (
            f"{p['machine']['cpu']}, {p['machine']['cores_allowed']} of "
            f"{p['machine']['cores']} cores, load {p['machine']['load_before'][0]:.1f} "
            "at start"
            if "machine" in p
            else "not recorded"
        )
        + ". Wall times: read them as proportions.",
        "",
        "## Process costs",
        "",
        "| what | s |",
        "|---|---:|",
        f"| `python -c pass` | {s('python_pass')} |",
        f"| `import metaflow` | {s('import_metaflow')} |",
        f"| `import dagster` | {s('import_dagster')} |",
        f"| load the generated defs file (imports dagster) | {s('load_defs')} |",
        f"| same + `metaflow.datastore` (what an op process ends up importing) "
        f"| {s('load_defs_and_metaflow_datastore')} |",
        f"| one `metaflow step` subprocess (s4 again) | {s('step_subprocess')} |",
        f"| the floor: the same step forked from a process that imported Metaflow "
        f"(no Dagster) | {s('step_floor')} |",
        f"| `import metaflow` without bytecode cache "
        f"| {p['no_bytecode_cache']['import_metaflow']['median_s']:.2f} |",
        f"| `import dagster` without bytecode cache "
        f"| {p['no_bytecode_cache']['import_dagster']['median_s']:.2f} |",
        f"| `dagster create` (full) | {s('create_full')} |",
        f"| `dagster create --ir-only` (no Node compile) | {s('create_ir_only')} |",
        "",
        f"Imports inside one `metaflow step` subprocess (`-X importtime`, one sample): "
        f"{p['step_imports']['total_s']:.2f} s in total; heaviest: "
        + ", ".join(
            f"{t['module']} {t['cumulative_s']:.2f}"
            for t in p["step_imports"]["top"][:6]
        ),
        "",
        f"Imports when loading the defs file: {p['defs_imports']['total_s']:.2f} s; "
        "heaviest: "
        + ", ".join(
            f"{t['module']} {t['cumulative_s']:.2f}"
            for t in p["defs_imports"]["top"][:6]
        ),
        "",
        "## In-process execution, per op (cold tasks: `--no-fast-launch`)",
        "",
        f"{n} ops, total {inproc['total_s']:.1f} s; sum of op times "
        f"{inproc['sum_op_s']:.1f} s, of which Metaflow subprocesses "
        f"{inproc['sum_subprocess_s']:.1f} s. Per op (median): op {med_op:.2f} s = "
        f"subprocess {med_sub:.2f} s + op overhead {med_over:.2f} s. Outside ops "
        f"(Dagster run bookkeeping): {inproc['total_s'] - inproc['sum_op_s']:.1f} s.",
        "",
        "| op | op s | subprocesses s | overhead s |",
        "|---|---:|---:|---:|",
    ]
    for o in ops:
        lines.append(
            f"| {o['op']} | {o['op_s']:.2f} | {o['subprocess_s']:.2f} "
            f"| {o['overhead_s']:.2f} |"
        )
    lines += [
        "",
        "## The job's executor (`execute_job`), per op",
        "",
        "`default`: ops as threads of the run's process, warm tasks from a launcher. "
        "Worker bootstrap (multiprocess executor only): STEP_WORKER_STARTING -> "
        "STEP_START (start the op process: spawn a new interpreter, or fork one from "
        "the fork server with fast launch; load the defs file; open the instance).",
        "",
        "| `dagster create` options | total s | bootstrap s per op (median) "
        "| op s (median) |",
        "|---|---:|---:|---:|",
    ]
    for name, mp in p["multiprocess"].items():
        boots = [o["bootstrap_s"] for o in mp["ops"] if o["bootstrap_s"] is not None]
        boot = f"{statistics.median(boots):.2f}" if boots else "—"
        body = statistics.median(o["op_s"] for o in mp["ops"])
        lines.append(f"| {name} | {mp['total_s']:.1f} | {boot} | {body:.2f} |")
    if "phases" in p:
        plain, frozen = p["phases"]["plain"], p["phases"]["freeze"]
        lines += [
            "",
            "## The whole process, as the bench times `ours` (linear10, `execute_job`)",
            "",
            "Phases of `bench/driver.py job` (medians): interpreter start and the "
            "driver's own imports; importing Dagster, loading the definitions file "
            "and creating the instance; `execute_job` (of which the run itself, "
            "RUN_START to RUN_SUCCESS); after the last atexit handler, i.e. CPython's "
            "finalization. `gc.freeze()` at exit: the same with every object alive "
            "at exit frozen first, so finalization's garbage collections skip them "
            "(a measurement only: neither the bench nor the generated code does it).",
            "",
            "| process | wall s | start s | import + instance s | execute_job s "
            "| (run s) | finalization s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, ph in (("as run", plain), ("`gc.freeze()` at exit", frozen)):
            lines.append(
                f"| {name} | {ph['wall_s']:.2f} | {ph['rest_s']:.2f} "
                f"| {ph['load_s']:.2f} | {ph['execute_s']:.2f} | {ph['run_s']:.2f} "
                f"| {ph['exit_s']:.2f} |"
            )
        lines += [
            "",
            f"Native `python flow.py run` of the same flow: "
            f"{p['native_wall']['median_s']:.2f} s.",
        ]
    if "step_floor" in p and "default" in p["multiprocess"]:
        warm = statistics.median(o["op_s"] for o in p["multiprocess"]["default"]["ops"])
        floor = p["step_floor"]["median_s"]
        lines += [
            "",
            f"A warm op under the job's default executor takes {warm:.2f} s (median), "
            f"{warm / floor:.2f}x the floor of {floor:.2f} s (the same step forked "
            "from a process that imported Metaflow, no Dagster).",
        ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
