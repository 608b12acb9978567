"""How a task process ends, warm (forked) or cold, against native `python flow.py run`.

A task process ends as CPython ends an interpreter: the flow file's unhandled
exception goes to sys.excepthook; then threading._shutdown() finishes work left to
threads (concurrent.futures' callbacks, then joining non-daemon threads), atexit
handlers run, stdio is flushed (a failure: exit status 120), and an unhandled
KeyboardInterrupt kills it with SIGINT. A warm task must end the same way, under the
thread executor (its launcher forks it), the multiprocess executor, and cold
(`--no-fast-launch`). Each test runs the flow natively and through the job, in a new
process as `dagster dev`'s run worker does, and compares.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import FLOWS, create, multiprocess_run, read_run, run_cli

FAULTS = FLOWS / "faults"

# How the job is compiled: each executor warm, and cold.
LAUNCHES = {
    "threads": (),
    "multiprocess": ("--executor", "multiprocess"),
    "cold": ("--no-fast-launch",),
}

# Read from the datastore itself: a task that died before Metaflow's own code ran has
# no metadata the client could find its logs by; and the client cannot decode logs that
# are not UTF-8 (kept here as bytes, in a str with surrogate escapes).
_READ_STEP = r"""
import json, os, sys
from metaflow import Task, namespace
from metaflow.datastore import FlowDataStore
from metaflow.exception import MetaflowNotFound
from metaflow.mflog import LOG_SOURCES
from metaflow.mflog.mflog import merge_logs
from metaflow.plugins.datastores.local_storage import LocalStorage
namespace(None)
flow_name, run_id, step_name = sys.argv[1].split("/")
root = LocalStorage.get_datastore_root_from_config(print, create_on_absent=False)
store = FlowDataStore(flow_name, storage_impl=LocalStorage, ds_root=root)
out = []
step_dir = os.path.join(root, flow_name, run_id, step_name)
for task_id in sorted(n for n in os.listdir(step_dir) if not n.startswith("_")):
    tds = store.get_task_datastore(run_id, step_name, task_id, attempt=0,
                                   data_metadata={"objects": {}, "info": {}},
                                   allow_not_done=True)
    # What the runtime recorded of the task's process (Metaflow's, or the op's).
    [runtime] = tds.load_metadata(["runtime"]).values()
    task = {"return_code": runtime["return_code"]}
    for stream in ("stdout", "stderr"):
        blobs = [blob for _, blob in tds.load_logs(LOG_SOURCES, stream)]
        task[stream] = "\n".join(
            line.msg.decode("utf-8", "surrogateescape")
            for line in merge_logs(blobs))
    try:
        found = Task(f"{sys.argv[1]}/{task_id}")
        task["successful"] = found.successful
        task["artifacts"] = {a.id: a.data for a in found
                             if not a.id.startswith("_") and a.id != "name"}
    except MetaflowNotFound:  # it died before Metaflow registered it
        task["successful"], task["artifacts"] = None, None
    out.append(task)
print(json.dumps(out))
"""


def read_step(
    folder: Path, pathspec: str, env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Each task of a step (`Flow/run/step`): its process's exit status (as the
    runtime recorded it), its logs, and, if Metaflow registered it, its success and
    artifacts (JSON values only)."""
    proc = run_cli(["-c", _READ_STEP, pathspec], cwd=folder, env=env)
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


def native(flow: Path) -> tuple[bool, str]:
    """`python flow.py run`, allowed to fail: whether it succeeded, and its run."""
    run_id_file = flow.parent / f".run-id-{uuid.uuid4().hex[:8]}"
    proc = run_cli(
        [flow.name, "run", "--run-id-file", str(run_id_file)],
        cwd=flow.parent,
        check=False,
    )
    return proc.returncode == 0, run_id_file.read_text().strip()


def job(
    flow: Path, job_name: str, launch: str, home: Path
) -> tuple[dict[str, Any], str]:
    """The flow compiled as `launch` says and run as `dagster dev` would: the result,
    and the Metaflow run id."""
    defs = f"{launch}_defs.py"
    create(flow, defs, *LAUNCHES[launch])
    result = multiprocess_run(flow.parent / defs, job_name, home)
    if launch != "cold":
        # Warm: no task fell back to a cold start.
        assert not [m for m in result["logs"] if "Starting the task cold" in m]
    return result, f"dagster-{result['run_id']}"


@pytest.mark.parametrize("launch", LAUNCHES)
def test_work_left_to_threads_is_finished_as_natively(
    launch: str, flow_dir: Path, tmp_path: Path
) -> None:
    """A non-daemon thread and a ThreadPoolExecutor job, not waited for: the process
    finishes them before its atexit handlers run, and before it exits."""
    flow = flow_dir / "thread_work_flow.py"
    shutil.copy(FAULTS / flow.name, flow)
    ok, run_id = native(flow)
    assert ok
    [expected] = read_run(flow_dir, f"ThreadWorkFlow/{run_id}")["steps"]["end"]
    expected = {k: expected["artifacts"][k] for k in ("done", "done_at_atexit")}
    # Natively, all of it is done by then (else this test shows nothing).
    assert expected == {
        "done": {"thread": True, "pool": True},
        "done_at_atexit": {"thread": True, "pool": True},
    }
    result, run_id = job(flow, "ThreadWorkFlow", launch, tmp_path / "h")
    assert result["success"], result["failures"]
    [end] = read_run(flow_dir, f"ThreadWorkFlow/{run_id}")["steps"]["end"]
    assert {k: end["artifacts"][k] for k in expected} == expected


def comparable(text: str, flow_dir: Path) -> list[str]:
    """A task's log lines, without what differs from run to run (object addresses), and
    without the runtime's own closing line."""
    text = re.sub(r"0x[0-9a-f]+", "0x?", text.replace(str(flow_dir), "<flows>"))
    return [line for line in text.splitlines() if line != "Task failed."]


@pytest.mark.parametrize("launch", LAUNCHES)
@pytest.mark.parametrize(
    ("fault", "flow_name", "step", "says", "code"),
    [
        # stdout cannot be flushed after atexit handlers: the status is 120.
        (
            "flush_fail_flow.py",
            "FaultFlushFlow",
            "unflushable",
            "exit code 120",
            120,
        ),
        # The flow's own sys.excepthook reports the error, and exits 5.
        (
            "excepthook_flow.py",
            "FaultExcepthookFlow",
            "crash",
            "exit code 5",
            5,
        ),
        # Reported, atexit handlers run, then death by SIGINT.
        (
            "interrupt_flow.py",
            "FaultInterruptFlow",
            "interrupted",
            "killed by signal SIGINT",
            -2,
        ),
    ],
)
def test_a_task_process_ends_as_natively(
    fault: str,
    flow_name: str,
    step: str,
    says: str,
    code: int,
    launch: str,
    flow_dir: Path,
    tmp_path: Path,
) -> None:
    flow = flow_dir / fault
    shutil.copy(FAULTS / fault, flow)
    ok, run_id = native(flow)
    assert not ok
    [expected] = read_step(flow_dir, f"{flow_name}/{run_id}/{step}")
    assert expected["return_code"] == code
    result, run_id = job(flow, flow_name, launch, tmp_path / "h")
    assert not result["success"]
    assert says in result["failures"][f"op_{step}"]
    [task] = read_step(flow_dir, f"{flow_name}/{run_id}/{step}")
    assert task["return_code"] == expected["return_code"]
    # What the process printed as it ended (the hook's report, the traceback, the
    # failed flush's), in the same order.
    for stream in ("stdout", "stderr"):
        assert comparable(task[stream], flow_dir) == comparable(
            expected[stream], flow_dir
        ), stream


@pytest.mark.parametrize("launch", LAUNCHES)
def test_objects_left_in_the_module_are_finalized_as_natively(
    launch: str, flow_dir: Path, tmp_path: Path
) -> None:
    """An unclosed buffered file held by the flow's module: the interpreter flushes it
    as it tears the module down at exit, after the step, so the next step reads it."""
    flow = flow_dir / "unclosed_file_flow.py"
    shutil.copy(FAULTS / flow.name, flow)
    ok, run_id = native(flow)
    assert ok
    [expected] = read_run(flow_dir, f"UnclosedFileFlow/{run_id}")["steps"]["end"]
    # Natively it is flushed (else this test shows nothing).
    assert expected["artifacts"]["seen"] == {
        "unclosed": "written by start, never flushed by the step\n"
    }
    result, run_id = job(flow, "UnclosedFileFlow", launch, tmp_path / "h")
    assert result["success"], result["failures"]
    [end] = read_run(flow_dir, f"UnclosedFileFlow/{run_id}")["steps"]["end"]
    assert end["artifacts"]["seen"] == expected["artifacts"]["seen"]
