"""`dagster trigger` / `status` / `terminate`: runs of the generated job.

The commands are plain click commands; cli.py adds them to the `dagster` group. How a
run is launched, followed and stopped lives in the launch package.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from metaflow import parameters
from metaflow._vendor import click
from metaflow.exception import MetaflowException


def default_output(flow_file: str) -> str:
    """`python my_flow.py dagster create` writes `my_flow_dagster.py` here."""
    stem = os.path.splitext(os.path.basename(flow_file))[0]
    return f"{stem}_dagster.py"


def positive(ctx: Any, param: Any, value: int | None) -> int | None:
    # Not click.IntRange: Metaflow's Deployer API cannot map that type to Python.
    if value is not None and value < 1:
        raise click.BadParameter("must be at least 1")
    return value


def write_json(path: str, payload: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f)


class DagsterTriggerError(MetaflowException):
    headline = "Dagster run not launched"


class DagsterRunError(MetaflowException):
    headline = "Dagster run"


_URL_HELP = (
    "Address of the Dagster webserver (default: $DAGSTER_URL, else "
    "http://127.0.0.1:3000)."
)


def _flow_parameters_first(cmd: Any) -> Any:
    """Give way to flow parameters: a parameter named like one of our options' short
    aliases (`--name`, `--file`) takes that option string; our long form still works.
    Apply above `add_custom_parameters`, which keeps our own options in
    `original_params`."""
    own = list(getattr(cmd, "original_params", cmd.params))
    flow_params = [p for p in cmd.params if all(p is not o for o in own)]
    taken = {opt for p in flow_params for opt in p.opts}
    names = {p.name for p in flow_params}
    cmd.mfdagster_clashes = sorted(
        p.opts[0] for p in own if p.name in names or (p.opts and p.opts[0] in taken)
    )
    for p in own:
        if isinstance(p, click.Option) and len(p.opts) > 1:
            p.opts = [p.opts[0], *[o for o in p.opts[1:] if o not in taken]]
    return cmd


def _parameter_values(obj: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Start-op config: Metaflow parameter name -> value typed by the Parameter."""
    from metaflow.parameters import DelayedEvaluationParameter, JSONType

    values: dict[str, Any] = {}
    for _, param in obj.flow._get_parameters():
        if getattr(param, "IS_CONFIG_PARAMETER", False):
            continue
        value = kwargs.get(param.name.replace("-", "_").lower())
        if value is None:
            continue  # the job's default (baked at create time) applies
        is_json = param.kwargs.get("type") == JSONType
        if isinstance(value, DelayedEvaluationParameter):
            value = value(return_str=True)
        elif is_json:
            # Click parsed the text; the start op's config takes JSON as text (a
            # string there is JSON text, as in the launchpad): the same value.
            value = json.dumps(value)
        if not is_json and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        values[param.name] = value
    return values


def _job_to_launch(
    obj: Any, job_name: str | None, defs_file: str | None
) -> Any:  # launch.JobInfo
    from . import launch

    path = defs_file or default_output(sys.argv[0])
    if os.path.isfile(path):
        jobs = launch.jobs_in_file(path, obj.flow.name)
        return launch.pick_job(jobs, job_name, path)
    if defs_file is not None:
        raise launch.LaunchError(f"No Dagster definitions file at {defs_file}.")
    # No generated file here: the webserver must serve the job. `create` names it
    # after the flow unless --name said otherwise.
    from .compiler import job_name as default_job_name
    from .deploy_time import project_flow_name

    name = job_name or default_job_name(project_flow_name(obj.flow))
    return launch.JobInfo(name=name, flow_name=obj.flow.name)


@_flow_parameters_first
@parameters.add_custom_parameters(deploy_mode=False)
@click.command(help="Launch a run of this flow's Dagster job.")
@click.option(
    "--run-id-file",
    default=None,
    help="Write the Metaflow run id of the new run to this file.",
)
@click.option("--dagster-url", default=None, help=_URL_HELP)
@click.option(
    "--dagster-job",
    "--name",
    "job_name",
    default=None,
    help="The Dagster job (default: the job of this flow in the generated file).",
)
@click.option(
    "--dagster-file",
    "--file",
    "defs_file",
    default=None,
    help="The generated definitions file (default: <flow file>_dagster.py here, "
    "as `create` writes it).",
)
@click.option(
    "--launcher",
    type=click.Choice(["auto", "webserver", "background"]),
    default="auto",
    show_default=True,
    help="webserver: launch on the Dagster webserver (GraphQL); background: execute "
    "the run in a detached process of this machine, recorded in $DAGSTER_HOME; "
    "auto: the webserver if one answers, else the background.",
)
@click.option(
    "--deployer-attribute-file",
    default=None,
    hidden=True,
    help="Write the metadata and pathspec of this run to this file (JSON). "
    "Used internally by Metaflow's Deployer API.",
)
@click.pass_obj
def trigger(
    obj: Any,
    run_id_file: str | None = None,
    dagster_url: str | None = None,
    job_name: str | None = None,
    defs_file: str | None = None,
    launcher: str = "auto",
    deployer_attribute_file: str | None = None,
    **kwargs: Any,
) -> None:
    from . import launch

    clashes = getattr(click.get_current_context().command, "mfdagster_clashes", [])
    if clashes:
        raise DagsterTriggerError(
            f"Parameters of {obj.flow.name} clash with options of `dagster trigger`: "
            f"{', '.join(clashes)}; rename them to trigger this flow."
        )
    try:
        job = _job_to_launch(obj, job_name, defs_file)
        config = launch.run_config(job, _parameter_values(obj, kwargs))
        webserver = launch.Webserver(dagster_url)
        use_webserver = launcher != "background" and webserver.answers()
        if launcher == "webserver" and not use_webserver:
            raise launch.LaunchError(
                f"No Dagster webserver answers at {webserver.url}: start one "
                f"(`dagster dev -f <generated file>`) or give its address with "
                f"--dagster-url or ${launch.URL_ENV}."
            )
        if use_webserver:
            served = webserver.find_job(job.name, obj.flow.name, job.file)
            if job.start_op is None:
                config = launch.run_config(served, _parameter_values(obj, kwargs))
            launched = launch.Launched(webserver.launch(served, config))
        else:
            if launcher == "auto":
                obj.echo(
                    f"No Dagster webserver answers at {webserver.url}: launching the "
                    "run in a background process.",
                )
            launched = launch.launch_background(job, config)
    except launch.LaunchError as exc:
        raise DagsterTriggerError(str(exc)) from None

    run_id = launched.metaflow_run_id
    pathspec = f"{obj.flow.name}/{run_id}"
    if run_id_file:
        with open(run_id_file, "w", encoding="utf-8") as f:
            f.write(run_id)
    if deployer_attribute_file:
        write_json(
            deployer_attribute_file,
            {
                "name": job.name,
                "metadata": job.metadata or obj.metadata.metadata_str(),
                "pathspec": pathspec,
                "dagster_run_id": launched.dagster_run_id,
                "dagster_url": webserver.url,
            },
        )
    obj.echo(
        f"Triggered Dagster job *{job.name}* (Metaflow run *{pathspec}*).", bold=True
    )
    url = launch.run_url(webserver.url, launched.dagster_run_id)
    if launched.background_pid is None:
        obj.echo(f"See the run in the Dagster UI at {url}")
    else:
        obj.echo(
            f"It runs in background process {launched.background_pid} "
            f"(log: {launched.log_file}), recorded in the Dagster instance at "
            f"{os.environ.get('DAGSTER_HOME')}; a webserver on that instance "
            f"shows it at {url}"
        )


def _checked_run(obj: Any, runs: Any, run_id: str) -> Any:  # launch.RunState
    state = runs.get(run_id)
    if state is None:
        where = runs.webserver.url if runs.via_webserver else "$DAGSTER_HOME"
        raise DagsterRunError(f"No Dagster run {run_id} at {where}.")
    if state.flow_name is not None and state.flow_name != obj.flow.name:
        raise DagsterRunError(
            f"Run {run_id} is a run of {state.flow_name}, not of {obj.flow.name}."
        )
    return state


@click.command(help="Print the Dagster status of a run of this flow.")
@click.option(
    "--run-id",
    required=True,
    help="A Metaflow run id (dagster-<id>: the latest Dagster run of that run, "
    "re-executions included) or a Dagster run id.",
)
@click.option("--dagster-url", default=None, help=_URL_HELP)
@click.pass_obj
def status(obj: Any, run_id: str, dagster_url: str | None = None) -> None:
    from . import launch

    try:
        runs = launch.Runs(dagster_url)
        state = _checked_run(obj, runs, run_id)
    except launch.LaunchError as exc:
        raise DagsterRunError(str(exc)) from None
    obj.echo(f"Status of Dagster run *{state.run_id}* of *{obj.flow.name}*:")
    obj.echo_always(state.status, err=False)


@click.command(help="Terminate a run of this flow and wait until it stops.")
@click.option(
    "--run-id",
    required=True,
    help="A Metaflow run id (dagster-<id>) or a Dagster run id.",
)
@click.option("--dagster-url", default=None, help=_URL_HELP)
@click.option(
    "--force",
    is_flag=True,
    help="Mark the run canceled at once (MARK_AS_CANCELED_IMMEDIATELY) instead of "
    "waiting for its processes to stop.",
)
@click.option(
    "--timeout",
    default=180,
    show_default=True,
    type=int,
    callback=positive,
    help="Seconds to wait for the run to stop.",
)
@click.pass_obj
def terminate(
    obj: Any,
    run_id: str,
    dagster_url: str | None = None,
    force: bool = False,
    timeout: int = 180,
) -> None:
    from . import launch

    try:
        runs = launch.Runs(dagster_url)
        state = _checked_run(obj, runs, run_id)
        if state.finished:
            obj.echo(f"Run *{state.run_id}* already finished: {state.status}.")
            obj.echo_always(state.status, err=False)
            return
        obj.echo(f"Terminating Dagster run *{state.run_id}* of *{obj.flow.name}*...")
        state = runs.terminate(state.run_id, force=force, timeout=timeout, say=obj.echo)
    except launch.LaunchError as exc:
        raise DagsterRunError(str(exc)) from None
    if not state.finished:
        raise DagsterRunError(
            f"Run {state.run_id} is still {state.status} after {timeout}s."
        )
    obj.echo(f"Run *{state.run_id}* stopped: {state.status}.")
    obj.echo_always(state.status, err=False)
