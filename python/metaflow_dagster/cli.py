"""The `dagster` command group Metaflow adds to every flow."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys
from typing import Any

from metaflow._vendor import click
from metaflow.exception import MetaflowException

from .cli_runs import (
    default_output,
    positive,
    status,
    terminate,
    trigger,
    write_json,
)
from .compiler import CompilerFailed, compile_ir, write_atomically
from .introspect import flow_ir


class DagsterCompileError(MetaflowException):
    headline = "Cannot compile this flow for Dagster"


@click.group()
def cli() -> None:
    pass


@cli.group(help="Compile this flow into a Dagster definitions file.")
@click.pass_obj
def dagster(obj: Any) -> None:
    # Metaflow's own linter first, as every scheduler integration does.
    obj.check(obj.graph, obj.flow, obj.environment, pylint=obj.pylint)


@dagster.command(help="Write a self-contained Dagster definitions file for this flow.")
@click.argument("output", required=False, type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Dagster job name (default: the flow name).")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    help="Metaflow tag for every run of the job (repeatable).",
)
@click.option(
    "--with",
    "decospecs",
    multiple=True,
    help="Add a step decorator to every step, as `python flow.py --with ...` does.",
)
@click.option(
    "--workflow-timeout",
    default=None,
    type=int,
    callback=positive,
    help="Stop a run of the job after this many seconds (measured from the Dagster "
    "run's start); enforced by every op, no daemon needed.",
)
@click.option(
    "--max-num-splits",
    default=None,
    type=int,
    callback=positive,
    help="Fail a run whose foreach yields more splits than this, as `run "
    "--max-num-splits` does (default: no limit, as Metaflow's production schedulers).",
)
@click.option(
    "--max-log-size",
    default=None,
    type=int,
    callback=positive,
    help="Megabytes of a task's stdout (and of its stderr) stored for `logs` and "
    "Task.stdout, as `run --max-log-size` (default 10, as run's); the op's live log "
    "shows all of it.",
)
@click.option(
    "--max-workers",
    default=16,
    show_default=True,
    type=int,
    callback=positive,
    help="How many ops (Metaflow tasks) a run executes at once (`run --max-workers`).",
)
@click.option(
    "--fast-launch/--no-fast-launch",
    default=True,
    show_default=True,
    help="Start each Metaflow task from a process that has Metaflow imported (forked, "
    "then set up as `python flow.py step ...` would be) instead of a new interpreter.",
)
@click.option(
    "--executor",
    "executor_kind",
    type=click.Choice(["threads", "multiprocess", "celery", "k8s"]),
    default=None,
    help="How a run executes its ops: as threads of the run's process (the default "
    "with fast launch), as processes of Dagster's multiprocess executor (the "
    "default with --no-fast-launch), as tasks of Celery workers (dagster-celery's "
    "celery_executor) or as Kubernetes jobs (dagster-k8s's k8s_job_executor). The "
    "last two are configured by run config (`execution: config:`; --max-workers "
    "does not apply) and pass op outputs through the Dagster instance's event log, "
    "so every worker needs the same Dagster instance storage (Postgres), and a "
    "Metaflow datastore and metadata service they can reach.",
)
@click.option(
    "--celery-queue",
    "celery_queues",
    multiple=True,
    metavar="STEP=QUEUE",
    help="With --executor celery: send the tasks of step STEP to the Celery queue "
    "QUEUE (its ops get the `dagster-celery/queue` tag); other steps go to the "
    "default queue (`dagster`). Repeatable, once per step.",
)
@click.option(
    "--celery-gpu-queue",
    default=None,
    metavar="QUEUE",
    help="With --executor celery: send the tasks of steps with @resources(gpu=N), "
    "N > 0, to the Celery queue QUEUE (one served by workers with GPUs), unless "
    "--celery-queue names another queue for the step. Without it such steps go to "
    "the default queue like any other: Celery knows nothing of @resources.",
)
@click.option(
    "--lost-run-after",
    default=300,
    show_default=True,
    type=int,
    callback=positive,
    metavar="SECONDS",
    help="With the thread executor: fail a run whose process has not reported for "
    "this many seconds, as when the machine running it (a Celery run launcher's "
    "worker, say) is lost; the run's process reports every few seconds and a sensor "
    "of the job, run by the Dagster daemon, fails the silent runs.",
)
@click.option(
    "--asset",
    "asset_names",
    multiple=True,
    metavar="ARTIFACT",
    help="An artifact of the end step to show as a Dagster asset, materialized by "
    "each successful run (repeatable). Default: every artifact the steps' source "
    "assigns that can reach the end step.",
)
@click.option(
    "--assets/--no-assets",
    "with_assets",
    default=True,
    show_default=True,
    help="Declare the flow and its end step's artifacts as Dagster assets (under "
    "[project, branch,] flow[, artifact]), with @trigger_on_finish upstream flows "
    "as their lineage.",
)
@click.option(
    "--ir-only",
    is_flag=True,
    hidden=True,
    help="Write the flow IR (JSON) instead of compiling it (for compiler tests).",
)
@click.option(
    "--deployer-attribute-file",
    default=None,
    hidden=True,
    help="Write the job name, flow name and metadata to this file (JSON). "
    "Used internally by Metaflow's Deployer API.",
)
@click.pass_context
def create(
    ctx: Any,
    output: str | None,
    name: str | None,
    tags: tuple[str, ...],
    decospecs: tuple[str, ...],
    workflow_timeout: int | None,
    max_num_splits: int | None,
    max_log_size: int | None,
    max_workers: int,
    fast_launch: bool,
    executor_kind: str | None,
    celery_queues: tuple[str, ...],
    celery_gpu_queue: str | None,
    lost_run_after: int,
    asset_names: tuple[str, ...],
    with_assets: bool,
    ir_only: bool,
    deployer_attribute_file: str | None = None,
) -> None:
    obj = ctx.obj
    if decospecs:
        # Decorators must be attached before Metaflow initialises the flow's decorators,
        # so hand them to Metaflow's top-level --with, exactly as a user would.
        sys.exit(_rerun_with_decorators(decospecs))
    output = output or default_output(sys.argv[0])
    kind = executor_kind or ("threads" if fast_launch else "multiprocess")
    queues = _celery_queues(obj, celery_queues, celery_gpu_queue)
    root_ctx = ctx.find_root()
    ir = flow_ir(
        obj,
        output_file=output,
        job_name=name,
        tags=tags,
        regenerate=_regenerate_command(output),
        datastore_root=root_ctx.params.get("datastore_root"),
        workflow_timeout=workflow_timeout,
        max_num_splits=max_num_splits,
        max_log_size=max_log_size,
    )
    ir["deploy"]["executor"] = {
        "kind": kind,
        "maxWorkers": max_workers,
        "fastLaunch": fast_launch,
    }
    if kind == "threads":
        ir["deploy"]["executor"]["lostRunAfter"] = lost_run_after
    if queues or celery_gpu_queue is not None:
        ir["deploy"]["executor"]["celeryQueues"] = queues
        ir["deploy"]["executor"]["celeryGpuQueue"] = celery_gpu_queue
    if asset_names and not with_assets:
        raise click.UsageError("--asset names assets, which --no-assets turns off.")
    if not with_assets:
        ir["deploy"]["assets"] = None
    elif asset_names:
        ir["deploy"]["assets"] = {"artifacts": sorted(set(asset_names))}
    if ir_only:
        write_atomically(output, json.dumps(ir, indent=2, sort_keys=True) + "\n")
        return
    try:
        compiled = compile_ir(ir)
    except CompilerFailed as exc:
        raise DagsterCompileError(str(exc)) from None
    write_atomically(output, compiled.source)
    from .launch import record_deployment

    record_deployment(compiled.job_name, output, obj.flow.name)
    if deployer_attribute_file:
        from .launch import local_metadata

        # Where the job's runs record (local metadata: beside the flow, as `trigger`
        # reports it), not where this command happened to run.
        flow_file = inspect.getfile(type(obj.flow))
        recorded = local_metadata(
            metadata=ir["deploy"]["metadata"],
            datastore=ir["deploy"]["datastore"],
            datastore_root=ir["deploy"]["datastoreRoot"],
            flow_dir=os.path.dirname(os.path.abspath(flow_file)),
        )
        write_json(
            deployer_attribute_file,
            {
                "name": compiled.job_name,
                "flow_name": obj.flow.name,
                "metadata": recorded or obj.metadata.metadata_str(),
                "additional_info": {"file": os.path.abspath(output)},
            },
        )
    obj.echo(
        f"Wrote the Dagster definitions for *{obj.flow.name}* to *{output}*.",
        bold=True,
    )
    obj.echo(f"Run it with: dagster dev -f {output}")
    for warning in _distributed_warnings(ir["deploy"], kind):
        obj.echo_always(warning)


# Executors whose steps run on other machines (Celery workers, Kubernetes pods), and
# the library (module, distribution) the generated file imports each from.
_DISTRIBUTED = {"celery": "Celery workers", "k8s": "Kubernetes pods"}
_LIBRARIES = {
    "celery": ("dagster_celery", "dagster-celery"),
    "k8s": ("dagster_k8s", "dagster-k8s"),
}


def _celery_queues(
    obj: Any, given: tuple[str, ...], gpu_queue: str | None
) -> dict[str, str]:
    """`--celery-queue STEP=QUEUE` options as step -> queue; refused (nothing
    written) when not of that form. The compiler checks them against the executor
    and the flow's steps."""
    flow = obj.flow.name
    if gpu_queue is not None and not _queue_name_ok(gpu_queue):
        raise DagsterCompileError(
            f"Flow {flow}: --celery-gpu-queue {gpu_queue!r} is not a Celery queue name "
            "(give a non-empty name without spaces)."
        )
    queues: dict[str, str] = {}
    for spec in given:
        step, sep, queue = spec.partition("=")
        step, queue = step.strip(), queue.strip()
        if not sep or not step or not _queue_name_ok(queue):
            raise DagsterCompileError(
                f"Flow {flow}: --celery-queue {spec!r} is not STEP=QUEUE (a step name, "
                "'=', and a Celery queue name without spaces)."
            )
        if queues.get(step, queue) != queue:
            raise DagsterCompileError(
                f"Flow {flow}: --celery-queue gives step {step!r} two queues, "
                f"{queues[step]!r} and {queue!r}."
            )
        queues[step] = queue
    return queues


def _queue_name_ok(queue: str) -> bool:
    return bool(queue) and not any(c.isspace() for c in queue)


def _distributed_warnings(deploy: dict[str, Any], kind: str) -> list[str]:
    """Warnings for a Celery or Kubernetes job whose tasks would record where other
    machines cannot read: Metaflow's local datastore or local metadata."""
    where = _DISTRIBUTED.get(kind)
    if where is None:
        return []
    warnings = []
    module, distribution = _LIBRARIES[kind]
    if importlib.util.find_spec(module) is None:
        warnings.append(
            f"Warning: the file imports {module}, which is not installed here: "
            f"install {distribution} wherever the job loads (and on the workers)."
        )
    if deploy["datastore"] == "local":
        warnings.append(
            f"Warning: --executor {kind} runs the tasks on {where}, which cannot "
            "read each other's artifacts from Metaflow's local datastore: create the "
            "job with a shared datastore (`python flow.py --datastore=s3 dagster "
            "create ...`, or METAFLOW_DEFAULT_DATASTORE=s3)."
        )
    if deploy["metadata"] == "local":
        warnings.append(
            f"Warning: --executor {kind} runs the tasks on {where}, which record "
            "their runs in Metaflow's local metadata on their own disks: create the "
            "job with a metadata service (`python flow.py --metadata=service dagster "
            "create ...`, or METAFLOW_DEFAULT_METADATA=service)."
        )
    return warnings


def _subcommand_index(argv: list[str]) -> int:
    for i, arg in enumerate(argv):
        if arg == "dagster" and i > 0:
            return i
    raise DagsterCompileError("cannot find the `dagster` command in the command line")


def _rerun_with_decorators(decospecs: tuple[str, ...]) -> int:
    argv = list(sys.argv)
    at = _subcommand_index(argv)
    head, tail = argv[:at], argv[at:]
    rest: list[str] = []
    skip = False
    for i, arg in enumerate(tail):
        if skip:
            skip = False
            continue
        if arg == "--with":
            skip = i + 1 < len(tail)
            continue
        if arg.startswith("--with="):
            continue
        rest.append(arg)
    extra = [item for spec in decospecs for item in ("--with", spec)]
    return subprocess.call([sys.executable, *head, *extra, *rest])


def _regenerate_command(output: str) -> list[str]:
    """The command for the generated header: what the user typed, made relative."""
    argv = list(sys.argv)
    at = _subcommand_index(argv)
    args = ["python", os.path.basename(argv[0]), *argv[1:at], "dagster", "create"]
    rest = argv[at + 2 :]
    positional_seen = False
    out: list[str] = []
    for arg in rest:
        if not positional_seen and not arg.startswith("-") and arg == output:
            out.append(os.path.basename(output))
            positional_seen = True
        else:
            out.append(arg)
    if not positional_seen:
        out.insert(0, os.path.basename(output))
    return args + out


# trigger / status / terminate: runs of the generated job (cli_runs.py).
for _command in (trigger, status, terminate):
    dagster.add_command(_command)
