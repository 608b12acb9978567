"""End-to-end helpers: real Metaflow, real Dagster, no mocks.

Each test copies its example flow into its own temporary directory, so every test has
its own `.metaflow` datastore and tests can run in parallel.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
FLOWS = Path(__file__).resolve().parent / "flows"

# Metaflow starts helper processes as `python` from PATH (e.g. @parallel workers).
os.environ["PATH"] = os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ["PATH"]]
)
# Metaflow refuses to guess a user name for root; CI runs as root.
os.environ.setdefault("METAFLOW_USER", "tester")
os.environ.pop("METAFLOW_DEFAULT_METADATA", None)
os.environ.pop("METAFLOW_DEFAULT_DATASTORE", None)
os.environ.pop("METAFLOW_DATASTORE_SYSROOT_LOCAL", None)


def find_flow(name: str) -> Path:
    """A fixture flow by file name: examples/, tests/flows/ or one of its folders."""
    for folder in (EXAMPLES, FLOWS, *sorted(p for p in FLOWS.iterdir() if p.is_dir())):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(name)


def free_port() -> int:
    """A TCP port on localhost nothing listens on now (for a server a test starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    return folder


def copy_flow(name: str, folder: Path) -> Path:
    target = folder / name
    shutil.copy(find_flow(name), target)
    return target


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{args} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def create(
    flow: Path,
    output: str | None = "defs.py",
    *options: str,
    top: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`python flow.py [top-level options] dagster create [output] [options]`."""
    args = [flow.name, *top, "dagster", "create"]
    if output is not None:
        args.append(output)
    return run_cli([*args, *options], cwd=flow.parent, env=env, check=check)


def load_module(path: Path) -> ModuleType:
    name = f"generated_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def compile_flow(name: str, folder: Path, *options: str) -> tuple[Path, ModuleType]:
    flow = copy_flow(name, folder)
    create(flow, "defs.py", *options)
    return flow, load_module(folder / "defs.py")


_READ_RUN = r"""
import json, sys
from metaflow import Run, Step, namespace
namespace(None)
pathspec = sys.argv[1]
run = Run(pathspec)
out = {"successful": run.successful, "finished": run.finished, "tags": sorted(run.tags),
       "steps": {}}
def safe(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)
for step in run:
    tasks = []
    for task in step:
        tasks.append({
            "id": task.id,
            "attempt": task.current_attempt,
            "successful": task.successful,
            "index": task.index,
            "artifacts": {a.id: safe(a.data) for a in task
                          if not a.id.startswith("_") and a.id != "name"},
            "stdout": task.stdout,
            "stderr": task.stderr,
            "user_tags": sorted(task.user_tags),
        })
    out["steps"][step.id] = sorted(tasks, key=lambda t: t["id"])
params = Step(pathspec + "/_parameters")
out["parameter_tasks"] = [t.id for t in params]
out["parameter_user_tags"] = [sorted(t.user_tags) for t in params]
print(json.dumps(out))
"""


def read_run(
    folder: Path, pathspec: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Read a run back with the Metaflow client, from the flow's own directory (with
    `env` added to the environment, e.g. to point the client at another datastore)."""
    proc = run_cli(["-c", _READ_RUN, pathspec], cwd=folder, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_pathspec(result: Any, op: str = "op_start") -> str:
    """The Metaflow run pathspec (Flow/run) of an executed job, from op metadata."""
    for event in result.all_events:
        if event.step_key == op and event.event_type_value == "STEP_OUTPUT":
            meta = event.event_specific_data.metadata
            return str(meta["metaflow pathspec"].value).rsplit("/", 2)[0]
    raise AssertionError(f"no output metadata for {op}")


def task_id(step: str, key: str | None = None) -> str:
    """The task id a generated job gives a task of `step` (runtime/tasks.py,
    task_id_of): `t-<the first 8 hex digits of the SHA-1 of the step's name>`, then
    `-<mapping key>` in a foreach (a loop's iterations add `-i<n>`)."""
    tag = "t-" + hashlib.sha1(step.encode()).hexdigest()[:8]
    return tag if key is None else f"{tag}-{key}"


def native_run(flow: Path, *args: str) -> str:
    """`python flow.py run` in the flow's directory; returns the run pathspec."""
    run_id_file = flow.parent / f".run-id-{uuid.uuid4().hex[:8]}"
    run_cli(
        [flow.name, "run", "--run-id-file", str(run_id_file), *args], cwd=flow.parent
    )
    flow_name = read_flow_name(flow)
    return f"{flow_name}/{run_id_file.read_text().strip()}"


def read_flow_name(flow: Path) -> str:
    for line in flow.read_text().splitlines():
        if line.startswith("class ") and "FlowSpec" in line:
            return line.split()[1].split("(")[0]
    raise AssertionError(f"no FlowSpec class in {flow}")


def comparable(run: dict[str, Any]) -> dict[str, Any]:
    """Per step: task count and the multiset of user artifacts (task ids differ)."""
    return {
        step: sorted(json.dumps(t["artifacts"], sort_keys=True) for t in tasks)
        for step, tasks in run["steps"].items()
    }


def artifacts(run: dict[str, Any], step: str) -> list[dict[str, Any]]:
    return [t["artifacts"] for t in run["steps"][step]]


# Executes a job as `dagster dev`'s run worker does: in a new process, multiprocess
# executor, on an instance of its own; prints the outcome as JSON.
_EXECUTE = r"""
import json, sys
from dagster import DagsterInstance, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

def main():
    defs, job_name, home = sys.argv[1:4]
    with DagsterInstance.local_temp(home) as instance:
        job = ReconstructableJob.for_file(defs, job_name)
        with execute_job(job, instance=instance, raise_on_error=False) as result:
            failures = {}
            for e in result.all_events:
                if e.event_type_value == "STEP_FAILURE":
                    failures[e.step_key] = e.event_specific_data.error.message
            logs = [e.user_message for e in instance.all_logs(result.run_id)]
            # Each step's compute logs (stdout, stderr), as the UI shows them.
            step_logs = {}
            manager = instance.compute_log_manager
            for e in result.all_events:
                if e.event_type_value != "LOGS_CAPTURED":
                    continue
                data = e.event_specific_data
                key = manager.build_log_key_for_run(result.run_id, data.file_key)
                log = manager.get_log_data(key)
                texts = {
                    "stdout": (log.stdout or b"").decode(),
                    "stderr": (log.stderr or b"").decode(),
                }
                for key in data.step_keys or []:
                    step_logs[key] = texts
            out = {"success": result.success, "run_id": result.run_id,
                   "failures": failures, "logs": logs, "step_logs": step_logs}
    print("RESULT " + json.dumps(out))

if __name__ == "__main__":
    main()
"""


def start_multiprocess_run(
    defs: Path, job_name: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start executing the job in a new process (see multiprocess_run), with `env`
    added to its environment."""
    home.mkdir(exist_ok=True)
    runner = home / "execute.py"
    runner.write_text(_EXECUTE)
    return subprocess.Popen(
        [sys.executable, str(runner), str(defs), job_name, str(home)],
        cwd=defs.parent,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def multiprocess_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Success, run id, failure messages by step key, and log messages of the run."""
    out, err = proc.communicate(timeout=600)
    lines = [x for x in out.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, out[-2000:] + err[-4000:]
    return dict(json.loads(lines[-1][len("RESULT ") :]))


def multiprocess_run(
    defs: Path, job_name: str, home: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Execute the job in a new process, as `dagster dev`'s run worker does: the
    multiprocess executor's fork server then starts with this test's environment (in
    a long-lived process it keeps the environment it first started with)."""
    return multiprocess_result(start_multiprocess_run(defs, job_name, home, env))


def is_launcher(cmdline: bytes) -> bool:
    """Whether a /proc cmdline is a warm-task launcher's (runtime/launcher.py): a helper
    of the process that ran the job, started with a task's environment, not a task."""
    return b"_launcher_main(" in cmdline


def is_gone(pid: int) -> bool:
    """Whether a process has exited (no longer in /proc, or a zombie not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
