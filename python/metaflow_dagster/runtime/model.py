"""What a generated file tells the runtime: the flow, its steps, and constants."""

# No `from __future__ import annotations`: Dagster reads op annotations at definition
# time and rejects string annotations for `context`; generated files must not use it.
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RUNTIME_VERSION = "0.1.0"

# The `_parameters` pseudo-task that `init` creates; one per run (not an integer: the
# metadata providers would treat an integer id as their own allocation).
PARAMS_TASK_ID = "params"
# Metaflow's METAFLOW_EXIT_DISALLOW_RETRY: "this failure must not be retried".
EXIT_DISALLOW_RETRY = 202
# After SIGTERM, how long a step's process group gets before SIGKILL.
KILL_GRACE_SECONDS = 5.0
# After a cancelled step's group is killed, how long its output pipes get to drain.
PUMP_DRAIN_SECONDS = 1.0
# Metaflow's own @timeout (SIGALRM inside the task) gets this head start: the op stops
# the step's process group itself only at @timeout + this many seconds after launch.
TIMEOUT_GRACE_SECONDS = 5.0
# How much of a failed command's stderr a Dagster failure message quotes.
STDERR_TAIL_LINES = 20
# How much of it is searched for the traceback of the user's exception (errors.py):
# enough for deep library stacks with Python 3.11's ^^^ marker lines.
STDERR_SCAN_LINES = 400
# The value an untaken branch passes on inside a foreach body, where Dagster cannot
# skip ops per split; ops receiving only this run nothing and pass it on.
NOT_TAKEN = ""
# The start op's output that keeps a guarded end op from being skipped (the compiler's
# GUARD_OUTPUT): it carries NOT_TAKEN into the end op's one fan-in input.
GUARD_OUTPUT = "started"
# Metaflow never reads attempts beyond this many (its MAX_ATTEMPTS).
METAFLOW_MAX_ATTEMPTS = 6
# A guard against a loop whose condition never changes (Metaflow has no limit).
MAX_LOOP_ITERATIONS = 10_000
# `python flow.py run --max-log-size` (10 MB): how much of a task's stdout, and of its
# stderr, Metaflow's runtime stores (its TruncatedBuffer), then this line.
MAX_LOG_BYTES = 10 * 1024 * 1024
TRUNCATED_LOG_LINE = b"[TRUNCATED - MAXIMUM LOG FILE SIZE REACHED]\n"


@dataclass(frozen=True)
class StepInfo:
    """What the runtime must know about one Metaflow step."""

    name: str
    # Directly after a foreach: the task gets `--split-index` (from its mapping key).
    split: bool = False
    # Attempts allowed are user + error retries + 1 (Metaflow's rule).
    user_retries: int = 0
    error_retries: int = 0
    # A foreach join: its inputs are passed in split order.
    foreach_join: bool = False
    # A switch: branch target step -> the op output that leads there.
    branches: Mapping[str, str] = field(default_factory=dict)
    # A switch that can choose itself: iterations run one after another in its op.
    loop: bool = False
    # A switch in a foreach body: every branch gets an output, untaken ones NOT_TAKEN.
    mapped: bool = False
    # `num_parallel`: the op runs the control task (it starts the workers itself, as
    # in Metaflow's local runtime); the join's inputs are the control's mapper tasks.
    parallel: bool = False
    parallel_join: bool = False
    # Decorators attached at deploy time, forwarded as top-level `--with` options.
    with_specs: tuple[str, ...] = ()
    # @environment variables: Metaflow's runtime sets them around the task, so we do.
    env: Mapping[str, str] = field(default_factory=dict)
    # @timeout in seconds (seconds + 60 * minutes + 3600 * hours): enforced by the op.
    timeout: float | None = None
    # @card (in source or `--with card`): the op lists the task's cards as metadata.
    cards: bool = False
    # With FlowInfo.derived_inputs: the steps feeding this one, in Metaflow's order,
    # and the foreach whose split this step's task is in (None outside any).
    inputs: tuple[str, ...] = ()
    within: str | None = None


@dataclass(frozen=True)
class FlowAssets:
    """The flow in Dagster's asset graph (assets.py): the flow's own asset, and one per
    artifact of its end step, each a key of Dagster key parts."""

    # [project, branch,] flow: each successful run materializes it.
    key: tuple[str, ...]
    # The end step's artifacts declared as assets, each keyed `key + (name,)`.
    artifacts: tuple[str, ...]
    # The Dagster asset group (the job's name).
    group: str
    # @trigger_on_finish: the upstream flows' own asset keys.
    upstream: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class FlowInfo:
    """Everything baked into a generated file at `create` time."""

    name: str
    # The flow file, relative to the generated file (`anchor`).
    file: str
    anchor: str
    start_step: str
    end_step: str
    steps: Mapping[str, StepInfo]
    top_level_args: tuple[str, ...] = ()
    datastore: str = "local"
    # None: resolve like Metaflow does, from the flow's directory upwards.
    datastore_root: str | None = None
    metadata: str = "local"
    tags: tuple[str, ...] = ()
    namespace: str | None = None
    owner: str | None = None
    # Parameter name -> type ("str", "int", "float", "bool", "json", "file": a path).
    parameters: Mapping[str, str] = field(default_factory=dict)
    # Fast launch (fast_launch.py's FAST_LAUNCH): tasks start warm, forked from the op
    # process or from a launcher, where that is indistinguishable; None: cold.
    fast_launch: Any = None
    # Ops run away from the run's process (dagster-celery's or dagster-k8s's executor):
    # cancelling the run cannot reach them (dagster-celery revokes an op's Celery
    # task, which stops no task already running), so each op watches the run's status
    # in the Dagster instance while its task runs, and kills the task on a cancel.
    remote_ops: bool = False
    # --lost-run-after (thread executor): the run's process reports (HEARTBEAT_TAG)
    # every HEARTBEAT_SECONDS; the lost_runs sensor fails a run silent for this long.
    lost_run_after: float | None = None
    # --workflow-timeout: seconds from the Dagster run's start; every op enforces it.
    workflow_timeout: float | None = None
    # Config values resolved at create time: name -> (JSON text, plain).
    configs: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    # @trigger_on_finish: the upstream flows' Dagster job names.
    trigger_on_finish: tuple[str, ...] = ()
    # @trigger: event name -> {parameter name: payload field}.
    trigger_events: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # --max-num-splits: a foreach task yielding more splits fails the run, as under
    # `python flow.py run` (default 100 there); None: no limit, as Metaflow's
    # production schedulers have none.
    max_num_splits: int | None = None
    # --max-log-size (in MB there): the bytes of a task's stdout, and of its stderr,
    # stored in the datastore (`logs`, Task.stdout); the op's live log shows all.
    max_log_bytes: int = MAX_LOG_BYTES
    # @exit_hook: functions (a name in the flow file, or an import path) Metaflow runs
    # after the run, each in a process of its own: on_success ones if the end step
    # finished, else on_error ones (exit_hooks.py). In declaration order.
    exit_hooks_on_success: tuple[str, ...] = ()
    exit_hooks_on_error: tuple[str, ...] = ()
    # The flow's assets; None: none (`--no-assets`).
    assets: FlowAssets | None = None
    # Ops pass each other nothing (`Nothing` inputs and outputs): each finds its
    # inputs' task ids from the steps' `inputs` and `within` (derived.py).
    derived_inputs: bool = False

    @property
    def flow_dir(self) -> str:
        return os.path.dirname(self.flow_path)

    @property
    def flow_path(self) -> str:
        here = os.path.dirname(os.path.abspath(self.anchor))
        return os.path.normpath(os.path.join(here, self.file))


@dataclass(frozen=True)
class TaskResult:
    """A finished, successful Metaflow task attempt."""

    input_path: str  # run/step/task, as later tasks name their inputs
    attempt: int


# Run tag naming the upstream Metaflow run(s) that triggered a run (space separated).
TRIGGER_TAG = "metaflow/trigger"
# Run tag listing the Metaflow events that triggered a run (JSON).
EVENTS_TAG = "metaflow/events"
# A Metaflow event N is a Dagster asset event on AssetKey([EVENT_ASSET_PREFIX, N]).
EVENT_ASSET_PREFIX = "metaflow_event"
# How many status changes or asset events a sensor reads per tick.
SENSOR_BATCH = 100
# Run tag: when the run's process last reported (Unix time, seconds), and how often.
HEARTBEAT_TAG = "metaflow-dagster/heartbeat"
HEARTBEAT_SECONDS = 5.0
