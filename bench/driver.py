"""Run one benchmark step inside a given virtualenv (ours or the published package).

The orchestrator (`bench.py`) starts this file with the Python of the venv under test,
in a fresh run directory that holds the flow file and (for Dagster) the generated
definitions file. It prints one JSON line on stdout, prefixed with `BENCH-RESULT `.

Modes:
  inprocess DEFS JOB                 job.execute_in_process()
  multiprocess DEFS JOB WORKERS [START_METHOD]
                                     dagster.execute_job(ReconstructableJob.for_file(...),
                                     instance=DagsterInstance.local_temp(...)) with the
                                     multiprocess executor, max_concurrent=WORKERS
  job DEFS JOB                       the same, with the executor the job was generated
                                     with and no run config (ours: `create` configures
                                     the executor, `--executor`, `--max-workers`)
  verify FLOW_NAME EXPECTED_TASKS    read the (only) run back with the Metaflow client
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from typing import Any


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.flush()
    print("BENCH-RESULT " + json.dumps(payload), flush=True)


def load_module(path: str, name: str) -> Any:
    """The Python file at `path`, imported as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_job(defs_path: str, job_name: str) -> Any:
    return getattr(load_module(defs_path, "bench_defs"), job_name)


def reconstructable_job_class() -> Any:
    """Dagster's ReconstructableJob, through our adapter (the one module that names
    Dagster's private modules). The published package's virtualenv has no
    `metaflow_dagster`: there the adapter (which imports only Dagster) is loaded from
    this checkout by its path."""
    try:
        from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob
    except ModuleNotFoundError as exc:
        if exc.name != "metaflow_dagster":
            raise  # ours is installed but broken: not a reason to measure anything else
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.path.join(repo, "python/metaflow_dagster/runtime/dagster_adapter.py")
        return load_module(path, "bench_dagster_adapter").ReconstructableJob
    return ReconstructableJob


def run_inprocess(defs_path: str, job_name: str) -> None:
    t0 = time.perf_counter()
    job = load_job(os.path.abspath(defs_path), job_name)
    t1 = time.perf_counter()
    result = job.execute_in_process(raise_on_error=False)
    t2 = time.perf_counter()
    emit(
        {
            "success": bool(result.success),
            "dagster_run_id": result.run_id,
            "load_s": t1 - t0,
            "execute_s": t2 - t1,
        }
    )


def run_multiprocess(
    defs_path: str, job_name: str, workers: int, start_method: str | None
) -> None:
    multiprocess: dict[str, Any] = {"max_concurrent": workers}
    if start_method == "forkserver":
        # Preload dagster in the fork server: every op process forks from a warm parent.
        multiprocess["start_method"] = {
            "forkserver": {"preload_modules": ["dagster", "metaflow"]}
        }
    elif start_method:
        multiprocess["start_method"] = {start_method: {}}
    run_config = {"execution": {"config": {"multiprocess": multiprocess}}}
    run_job(defs_path, job_name, run_config)


def run_job(defs_path: str, job_name: str, run_config: dict[str, Any]) -> None:
    t0 = time.perf_counter()
    import dagster
    from dagster import DagsterInstance

    recon = reconstructable_job_class().for_file(os.path.abspath(defs_path), job_name)
    instance_dir = os.path.abspath("dagster_instance")
    os.makedirs(instance_dir, exist_ok=True)
    with DagsterInstance.local_temp(tempdir=instance_dir) as instance:
        t1 = time.perf_counter()
        result = dagster.execute_job(
            recon, instance=instance, run_config=run_config, raise_on_error=False
        )
        t2 = time.perf_counter()
        failures = [
            f"{e.step_key}: {e.message}"
            for e in result.all_events
            if e.event_type_value == "STEP_FAILURE"
        ]
        # The run's own duration, as Dagster records it (RUN_START to RUN_SUCCESS):
        # without this process's start, Dagster's import, and the new instance.
        record = instance.get_run_record_by_id(result.run_id)
        run_s = None
        if record is not None and record.start_time and record.end_time:
            run_s = record.end_time - record.start_time
        # What the run left in Dagster's storage (SQLite run and event log, compute
        # logs).
        storage = sum(
            os.path.getsize(os.path.join(folder, name))
            for folder, _, names in os.walk(instance_dir)
            for name in names
        )
        emit(
            {
                "success": bool(result.success),
                "dagster_run_id": result.run_id,
                "load_s": t1 - t0,
                "execute_s": t2 - t1,
                "run_s": run_s,
                "storage_mb": storage / 2**20,
                "step_failures": failures[:5],
            }
        )


def verify(flow_name: str, expected_tasks: int) -> None:
    """The run must exist, be finished and successful, with every task there."""
    from metaflow import Flow, namespace

    namespace(None)
    runs = list(Flow(flow_name).runs())
    out: dict[str, Any] = {"runs": [r.pathspec for r in runs]}
    if len(runs) != 1:
        out.update(success=False, reason=f"expected 1 run, found {len(runs)}")
        emit(out)
        return
    run = runs[0]
    tasks = 0
    unsuccessful = []
    steps = {}
    for step in run:
        count = 0
        for task in step:
            count += 1
            if not task.successful:
                unsuccessful.append(task.pathspec)
        steps[step.id] = count
        tasks += count
    ok = bool(run.successful) and tasks == expected_tasks and not unsuccessful
    reason = ""
    if not run.successful:
        reason = "Run.successful is False"
    elif tasks != expected_tasks:
        reason = f"found {tasks} tasks, expected {expected_tasks}: {steps}"
    elif unsuccessful:
        reason = f"unsuccessful tasks: {unsuccessful[:5]}"
    out.update(
        success=ok,
        reason=reason,
        pathspec=run.pathspec,
        finished=bool(run.finished),
        tasks=tasks,
        steps=steps,
    )
    emit(out)


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "inprocess":
        run_inprocess(argv[1], argv[2])
    elif mode == "multiprocess":
        run_multiprocess(
            argv[1], argv[2], int(argv[3]), argv[4] if len(argv) > 4 else None
        )
    elif mode == "job":
        run_job(argv[1], argv[2], {})
    elif mode == "verify":
        verify(argv[1], int(argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
