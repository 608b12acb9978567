"""`dagster create --executor celery|k8s`: dagster-celery's and dagster-k8s's executors,
op tags they read, and op outputs passed through the run's event log.

No Redis, Celery worker or Kubernetes cluster here: the executors' configuration and
the op tags are checked with Dagster's, dagster-celery's and dagster-k8s's own
validation; runs execute in process (`execute_in_process`, which keeps the job's IO
manager), or under the real Celery executor with Celery's eager mode (each step a task
Celery runs where it is sent, in this process, with a fresh IO manager that finds the
upstream outputs only in the event log).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    REPO,
    comparable,
    compile_flow,
    copy_flow,
    create,
    load_module,
    native_run,
    read_run,
    run_pathspec,
)
from dagster import (
    DagsterInstance,
    DagsterInvalidConfigError,
    ReexecutionOptions,
    execute_job,
    validate_run_config,
)
from dagster_celery import celery_executor
from dagster_k8s import (
    DagsterK8sJobConfig,
    construct_dagster_k8s_job,
    k8s_job_executor,
)
from dagster_k8s.job import get_user_defined_k8s_config
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob, process_config
from metaflow_dagster.runtime.outputs import OUTPUT_VALUE_KEY
from test_reexecution import RESUMED_FROM_FAILURE

QUEUE_TAG = "dagster-celery/queue"
K8S_TAG = "dagster-k8s/config"

# Run config of the Celery executor that runs each step's task eagerly, where it is
# sent: the executor's real code path (queues, priorities, one plan per step) without a
# broker or workers.
EAGER_CELERY = {
    "execution": {
        "config": {
            "broker": "memory://",
            "backend": "cache+memory://",
            "config_source": {"task_always_eager": True},
        }
    }
}


def assert_ruff_clean(path: Path) -> None:
    """A generated file passes the repository's ruff check and format. The header's
    regenerate command is the user's command line, as long as it was typed: a long
    line there is not the generated code's (the only finding let through)."""
    ruff = [str(Path(sys.executable).parent / "ruff")]
    config = ["--config", str(REPO / "pyproject.toml")]
    done = subprocess.run(
        [*ruff, "format", "--check", *config, str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [*ruff, "check", "--output-format", "json", *config, str(path)],
        capture_output=True,
        text=True,
    )
    header_end = path.read_text().index('"""', 3)
    header_lines = path.read_text()[:header_end].count("\n") + 1
    findings = [
        f
        for f in json.loads(done.stdout)
        if not (f["code"] == "E501" and f["location"]["row"] <= header_lines)
    ]
    assert findings == [], findings


def io_manager_files(home: Path) -> list[Path]:
    """What an IO manager wrote under $DAGSTER_HOME/storage (fs_io_manager writes
    storage/<run>/<step>/<output>); the compute logs' folder beside it is not one."""
    storage = home / "storage"
    if not storage.exists():
        return []
    return [
        path
        for run in storage.iterdir()
        for path in run.iterdir()
        if path.name != "compute_logs"
    ]


def recorded_outputs(instance: DagsterInstance, run_id: str) -> list[tuple[str, Any]]:
    """(step key, recorded value) of each of a run's HANDLED_OUTPUT events: what the
    event-log IO manager kept."""
    return [
        (
            e.step_key,
            e.dagster_event.event_specific_data.metadata[OUTPUT_VALUE_KEY].value,
        )
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None
        and e.dagster_event.event_type_value == "HANDLED_OUTPUT"
    ]


def submitted_queues(events: Any) -> dict[str, str]:
    """Step key -> the Celery queue the executor sent its task to."""
    queues = {}
    for event in events:
        message = event.message or ""
        if message.startswith("Submitting celery task for step"):
            queues[event.step_key] = message.split('to queue "')[1].rstrip('".')
    return queues


# ---- The Celery executor -------------------------------------------------------------


def test_celery_job_uses_dagster_celery_with_queues(flow_dir: Path) -> None:
    flow = copy_flow("executor_resources_flow.py", flow_dir)
    proc = create(
        flow,
        "defs.py",
        "--executor",
        "celery",
        "--celery-queue",
        "end=light",
        "--celery-gpu-queue",
        "gpu",
    )
    assert_ruff_clean(flow_dir / "defs.py")
    module = load_module(flow_dir / "defs.py")
    job = module.ExecutorResourcesFlow
    assert job.executor_def is celery_executor
    assert job.resource_defs["io_manager"] is module.event_log_io_manager
    # Broker and backend come from run config, as dagster-celery documents; without
    # them, its defaults (the environment's DAGSTER_CELERY_BROKER_HOST).
    assert validate_run_config(job, {}) is not None
    redis = "redis://redis.example:6379/0"
    config = {"broker": redis, "backend": redis, "include": ["defs"]}
    valid = validate_run_config(job, {"execution": {"config": config}})
    assert valid["execution"]["celery"]["broker"] == redis
    with pytest.raises(DagsterInvalidConfigError):
        validate_run_config(job, {"execution": {"config": {"brokers": redis}}})
    # --celery-queue names the end step's queue; the GPU step goes to the GPU queue;
    # the others stay on Celery's default queue.
    queues = {node.name: node.tags.get(QUEUE_TAG) for node in job.graph.node_defs}
    assert queues == {
        "op_start": None,
        "op_train": "gpu",
        "op_join": None,
        "op_end": "light",
    }
    # Local datastore and metadata: the file is written, with a warning for each.
    out = proc.stdout + proc.stderr
    assert "Warning: --executor celery" in out
    assert "--datastore=s3" in out and "METAFLOW_DEFAULT_DATASTORE" in out
    assert "--metadata=service" in out


def test_celery_job_in_process_matches_native_and_writes_no_files(
    flow_dir: Path, tmp_path: Path
) -> None:
    """The job's graph run in process (execute_in_process keeps the job's IO manager):
    the artifacts of a native run, every op output in the event log, none on disk."""
    flow, module = compile_flow("foreach_flow.py", flow_dir, "--executor", "celery")
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        result = module.ForeachFlow.execute_in_process(instance=instance)
        assert result.success
        pathspec = run_pathspec(result)
        outputs = recorded_outputs(instance, result.run_id)
    assert io_manager_files(home) == []
    # One record per output, each with its mapping key (the items, [30, 10, 20, 5]):
    # the foreach's splits carry the foreach task's input path and their index.
    run_id = pathspec.split("/")[1]
    start = [value for step, value in outputs if step == "op_start"]
    assert sorted(v["mapping_key"] for v in start) == ["05", "10", "20", "30"]
    (start_path,) = {v["value"].partition("#")[0] for v in start}
    assert start_path.startswith(f"{run_id}/start/")
    assert sorted(v["value"].partition("#")[2] for v in start) == ["0", "1", "2", "3"]
    (end,) = [value for step, value in outputs if step == "op_end"]
    assert end["mapping_key"] is None and end["value"].startswith(f"{run_id}/end/")
    assert len(outputs) == len(
        [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    )
    run = read_run(flow_dir, pathspec)
    assert run["successful"] and run["finished"]
    native = read_run(flow_dir, native_run(flow))
    assert comparable(run) == comparable(native)


@pytest.mark.parametrize(
    ("name", "job"),
    [
        ("switch_in_foreach_flow.py", "SwitchInForeachFlow"),
        ("loop_in_foreach_flow.py", "LoopInForeachFlow"),
        ("nested_switch_flow.py", "NestedSwitchFlow"),
        ("triple_foreach_flow.py", "TripleForeachFlow"),
    ],
)
def test_shapes_under_the_celery_executor_match_native(
    name: str, job: str, flow_dir: Path, tmp_path: Path
) -> None:
    """Switches, loops and nested foreaches through the real Celery executor (eager):
    one plan per step, dynamic outputs and regrouping through the run's event log."""
    flow, _ = compile_flow(name, flow_dir, "--executor", "celery")
    home = tmp_path / "dagster_home"
    home.mkdir()
    recon = ReconstructableJob.for_file(str(flow_dir / "defs.py"), job)
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(recon, instance=instance, run_config=EAGER_CELERY) as result:
            assert result.success
            pathspec = run_pathspec(result)
            assert submitted_queues(result.all_events)  # Celery ran the steps
    assert io_manager_files(home) == []
    run = read_run(flow_dir, pathspec)
    assert run["successful"] and run["finished"]
    assert comparable(run) == comparable(read_run(flow_dir, native_run(flow)))


def test_celery_executor_reexecution_from_failure(
    flow_dir: Path, tmp_path: Path
) -> None:
    """Under the real Celery executor (eager): queues from --celery-queue, outputs
    through the event log, and a re-execution from failure that reads the outputs of
    the steps it does not run again from the failed run's events."""
    flow, _ = compile_flow(
        "resume_flow.py",
        flow_dir,
        "--executor",
        "celery",
        "--celery-queue",
        "body=bodies",
    )
    (flow_dir / "fail.marker").write_text("")
    home = tmp_path / "dagster_home"
    home.mkdir()
    job = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ResumeFlow")
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(
            job, instance=instance, run_config=EAGER_CELERY, raise_on_error=False
        ) as first:
            assert not first.success
            pathspec = run_pathspec(first)
            first_id = first.run_id
            queues = submitted_queues(first.all_events)
        assert queues["op_start"] == "dagster"
        # Keyed by the items, [10, 20, 30].
        assert {queues[f"op_body[{i}]"] for i in (10, 20, 30)} == {"bodies"}
        (flow_dir / "fail.marker").unlink()
        options = ReexecutionOptions.from_failure(first_id, instance)
        with execute_job(
            job,
            instance=instance,
            run_config=EAGER_CELERY,
            reexecution_options=options,
        ) as again:
            assert again.success
            ran = {
                e.step_key
                for e in again.all_events
                if e.event_type_value == "STEP_SUCCESS"
            }
            loaded = [
                e.event_specific_data.upstream_step_key
                for e in again.all_events
                if e.event_type_value == "LOADED_INPUT"
            ]
    assert ran == {"op_body[20]", "op_join", "op_end"}
    # op_body[20] read op_start's output, and op_join those of op_body[10] and [30],
    # from the failed run's event log: nothing is on disk.
    assert {"op_start", "op_body[10]", "op_body[30]"} <= set(loaded)
    assert io_manager_files(home) == []
    executions = Counter((flow_dir / "executions.log").read_text().splitlines())
    assert executions == RESUMED_FROM_FAILURE
    run = read_run(flow_dir, pathspec)
    assert run["successful"] and run["finished"]
    (flow_dir / "executions.log").unlink()
    native = read_run(flow_dir, native_run(flow))
    assert comparable(run) == comparable(native)


def test_exit_hooks_run_under_the_celery_executor(
    flow_dir: Path, tmp_path: Path
) -> None:
    """@exit_hook wraps dagster-celery's executor: same name and config, the steps go
    through Celery, and the hooks run in the run's process afterwards."""
    _, module = compile_flow("exit_hook_flow.py", flow_dir, "--executor", "celery")
    job = module.ExitHookFlow
    assert job.executor_def.name == celery_executor.name
    validate_run_config(job, EAGER_CELERY)
    home = tmp_path / "dagster_home"
    home.mkdir()
    recon = ReconstructableJob.for_file(str(flow_dir / "defs.py"), "ExitHookFlow")
    with DagsterInstance.local_temp(str(home)) as instance:
        with execute_job(recon, instance=instance, run_config=EAGER_CELERY) as result:
            assert result.success
            run_id = f"dagster-{result.run_id}"
            assert submitted_queues(result.all_events)["op_end"] == "dagster"
    seen = json.loads(
        (flow_dir / "hook_markers" / run_id / "record_success.json").read_text()
    )
    assert seen["successful"] is True and seen["end_value"] == 2
    assert not (flow_dir / "hook_markers" / run_id / "record_error.json").exists()


# ---- The Kubernetes executor ---------------------------------------------------------


def test_k8s_job_uses_dagster_k8s_with_step_resources(flow_dir: Path) -> None:
    flow = copy_flow("executor_resources_flow.py", flow_dir)
    # A shared datastore: only the local metadata is warned about.
    top = ("--datastore=s3", "--datastore-root=s3://bucket/prefix")
    proc = create(flow, "defs.py", "--executor", "k8s", top=top)
    out = proc.stdout + proc.stderr
    assert "--metadata=service" in out and "--datastore=s3" not in out
    assert "not installed" not in out
    assert_ruff_clean(flow_dir / "defs.py")
    module = load_module(flow_dir / "defs.py")
    job = module.ExecutorResourcesFlow
    assert job.executor_def is k8s_job_executor
    assert job.resource_defs["io_manager"] is module.event_log_io_manager
    config = {
        "job_namespace": "metaflow",
        "job_image": "registry.example/flows:1",
        "max_concurrent": 4,
        "per_step_k8s_config": {
            "op_end": {"container_config": {"resources": {"requests": {"cpu": "1"}}}}
        },
    }
    validate_run_config(job, {"execution": {"config": config}})
    with pytest.raises(DagsterInvalidConfigError):
        validate_run_config(job, {"execution": {"config": {"max_concurrent": "x"}}})
    # Each op's tag, as dagster-k8s reads it, and the Kubernetes Job it builds from it.
    pods = {}
    for node in job.graph.node_defs:
        user_config = get_user_defined_k8s_config(node.tags)
        k8s_job = construct_dagster_k8s_job(
            DagsterK8sJobConfig(job_image="registry.example/flows:1"),
            ["dagster", "api", "execute_step"],
            f"dagster-step-{node.name.replace('_', '-')}",
            user_defined_k8s_config=user_config,
        )
        pods[node.name] = (node.tags.get(K8S_TAG), k8s_job.spec.template.spec)
    assert pods["op_join"][0] is None and pods["op_end"][0] is None
    start = pods["op_start"][1].containers[0].resources
    assert start.requests == {"cpu": "0.5", "memory": "512Mi"}
    assert start.limits is None
    train_pod = pods["op_train"][1]
    train = train_pod.containers[0]
    assert train.resources.requests == {
        "cpu": "4",
        "memory": "16000Mi",
        "ephemeral-storage": "20480Mi",
    }
    assert train.resources.limits == {"nvidia.com/gpu": "2"}
    assert [(m.name, m.mount_path) for m in train.volume_mounts] == [
        ("dshm", "/dev/shm")
    ]
    (volume,) = [v for v in train_pod.volumes if v.name == "dshm"]
    assert (volume.empty_dir.medium, volume.empty_dir.size_limit) == (
        "Memory",
        "1024Mi",
    )


# ---- Refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ("--executor", "celery", "--celery-queue", "nowhere=q"),
            ["ExecutorResourcesFlow", "'nowhere'", "--celery-queue"],
        ),
        (
            ("--executor", "k8s", "--celery-queue", "train=q"),
            ["ExecutorResourcesFlow", "--celery-queue", "'k8s'"],
        ),
        (
            ("--celery-gpu-queue", "gpu"),
            ["ExecutorResourcesFlow", "--celery-gpu-queue", "'threads'"],
        ),
        (
            ("--executor", "celery", "--celery-queue", "train"),
            ["ExecutorResourcesFlow", "'train'", "--celery-queue", "STEP=QUEUE"],
        ),
    ],
)
def test_celery_queue_refusals_write_nothing(
    flow_dir: Path, options: tuple[str, ...], expected: list[str]
) -> None:
    flow = copy_flow("executor_resources_flow.py", flow_dir)
    (flow_dir / "defs.py").write_text("# keep me\n")
    proc = create(flow, "defs.py", *options, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    for text in expected:
        assert text in out, (text, out)
    assert (flow_dir / "defs.py").read_text() == "# keep me\n"


def test_no_warning_for_executors_on_one_machine(flow_dir: Path) -> None:
    flow = copy_flow("linear_flow.py", flow_dir)
    for kind in ("threads", "multiprocess"):
        proc = create(flow, "defs.py", "--executor", kind)
        assert "Warning" not in proc.stdout + proc.stderr


def test_readme_k8s_deployment_passes_dagster_k8s_schema() -> None:
    """The Kubernetes recipe README shows (docs/cluster/dagster-k8s.yaml): its run
    launcher config is what dagster-k8s's K8sRunLauncher accepts, and its storage what
    dagster-postgres accepts (no cluster here: nothing is launched)."""
    import yaml
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres import PostgresEventLogStorage

    text = (REPO / "docs" / "cluster" / "dagster-k8s.yaml").read_text()
    assert f"```yaml\n{text}```" in (REPO / "README.md").read_text()
    config = yaml.safe_load(text)
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    env = {"FLOW_IMAGE": "registry/flow:1", "DAGSTER_PG_HOST": "db"}
    env["DAGSTER_PG_PASSWORD"] = "x"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        checked = process_config(K8sRunLauncher.config_type(), launcher["config"])
        assert checked.success, checked.errors
        storage = config["storage"]["postgres"]
        checked = process_config(PostgresEventLogStorage.config_type(), storage)
        assert checked.success, checked.errors
