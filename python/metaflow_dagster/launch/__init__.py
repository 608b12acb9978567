"""Launch, follow and stop runs of a generated Dagster job.

Two ways to launch a run:

* on a running Dagster webserver (`dagster dev`, `dagster-webserver`), through its
  GraphQL API: `launchRun`, then `runOrError` / `terminateRun`. The run is queued and
  executed by the webserver's instance, exactly like a run launched from the UI
  (`webserver.py`).
* when no webserver answers, in a detached background process of this machine that
  executes the run with the job's executor in the instance of `$DAGSTER_HOME`
  (`background.py`, started as `python -m metaflow_dagster.launch ...`).

The rooms, lowest first (each imports only from rooms above it in this list):
`registry` (the jobs `create` wrote, by name), `state` (run ids, tags, RunState,
LaunchError), `jobs` (the generated file: its jobs,
parameters and run config), `webserver` (the GraphQL client), `background` (the
detached process), `runs` (the `Runs` facade the CLI and the Deployer call).

Nothing here imports Dagster at module level: the webserver path needs only the
standard library, and Metaflow imports the deployer (which imports this lazily) at
start-up.
"""

from .background import Launched, launch_background
from .jobs import (
    JobInfo,
    ParamSpec,
    jobs_in_file,
    load_generated,
    local_metadata,
    pick_job,
    run_config,
)
from .registry import record_deployment, recorded_file
from .runs import Runs, wait_until
from .state import (
    FINISHED,
    URL_ENV,
    LaunchError,
    RunState,
    metaflow_run_id,
    run_url,
    split_run_id,
    webserver_url,
)
from .webserver import Webserver

__all__ = [
    "FINISHED",
    "URL_ENV",
    "JobInfo",
    "record_deployment",
    "recorded_file",
    "LaunchError",
    "Launched",
    "ParamSpec",
    "RunState",
    "Runs",
    "Webserver",
    "jobs_in_file",
    "launch_background",
    "load_generated",
    "local_metadata",
    "metaflow_run_id",
    "pick_job",
    "run_config",
    "run_url",
    "split_run_id",
    "wait_until",
    "webserver_url",
]
