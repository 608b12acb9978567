"""Every private Dagster name the package uses, and the Dagster versions it supports.

Dagster's public API has no way to run a job's ops as threads of the run's process,
so the thread executor (executor.py) drives Dagster's own step execution through its
internals (`dagster._core...`), which change without notice between releases. Every
use of a `dagster._` name in this package, its tests and the generated files is here
(tests/test_dagster_adapter.py fails on one anywhere else), so supporting another
Dagster release means reading this module against it, and nothing else.

Supported: Dagster 1.11, 1.12 and 1.13 (SUPPORTED_DAGSTER, both ends included), with
Metaflow 2.16 to 2.19; ci/oldest-pair locks the oldest pair, which
scripts/test_oldest_pair.sh tests. Across these releases every name below lives in the
same module with the same signature, so each has one source; a name that moves gets
its other modules as fallbacks in its `_private` call, newest first.

On a Dagster outside the range, or where a name is missing, the generated file still
loads, with a warning (check_versions): its jobs, schedules and sensors, the
multiprocess executor and `execute_in_process` use only public API. Only a run under
the thread executor stops, at its start, with the message from thread_executor_problem.
"""

import importlib
import importlib.metadata
import re
import warnings
from typing import Any

import dagster

# The Dagster and Metaflow (major, minor) releases this runtime is tested with: the
# first and the last, both included. pyproject.toml's pins say the same.
SUPPORTED_DAGSTER = ((1, 11), (1, 13))
SUPPORTED_METAFLOW = ((2, 16), (2, 19))

# Names below that no module offered, "name (module or module)"; empty when all did.
_MISSING_PRIVATE: list[str] = []


class _MissingPrivateName:
    """Stands in for a private name this Dagster lacks, so that the module (and the
    generated file) still loads; using it raises the thread executor's error."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedDagsterError(thread_executor_problem() or self._name)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # introspection (copy, typing): not a use
            raise AttributeError(attr)
        raise UnsupportedDagsterError(thread_executor_problem() or self._name)


def _private(name: str, *modules: str) -> Any:
    """`name` from the first of `modules` that has it (the newest Dagster's first)."""
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    _MISSING_PRIVATE.append(f"{name} ({' or '.join(modules)})")
    return _MissingPrivateName(name)


# The thread executor (executor.py) and the exit hooks' executor (exit_hooks.py).
EngineEventData = _private("EngineEventData", "dagster._core.events")
ExecuteRunWithPlanIterable = _private(
    "ExecuteRunWithPlanIterable", "dagster._core.execution.api"
)
create_compute_log_file_key = _private(
    "create_compute_log_file_key", "dagster._core.execution.compute_logs"
)
PlanExecutionContext = _private(
    "PlanExecutionContext", "dagster._core.execution.context.system"
)
PlanOrchestrationContext = _private(
    "PlanOrchestrationContext", "dagster._core.execution.context.system"
)
PlanExecutionContextManager = _private(
    "PlanExecutionContextManager", "dagster._core.execution.context_creation_job"
)
ActiveExecution = _private("ActiveExecution", "dagster._core.execution.plan.active")
# One step's execution, and its hooks, as Dagster's in-process executor runs them.
dagster_event_sequence_for_step = _private(
    "dagster_event_sequence_for_step", "dagster._core.execution.plan.execute_plan"
)
_trigger_hook = _private("_trigger_hook", "dagster._core.execution.plan.execute_plan")
InstanceConcurrencyContext = _private(
    "InstanceConcurrencyContext",
    "dagster._core.execution.plan.instance_concurrency_context",
)
ExecutionPlan = _private("ExecutionPlan", "dagster._core.execution.plan.plan")
RetryMode = _private("RetryMode", "dagster._core.execution.retries")
get_retries_config = _private("get_retries_config", "dagster._core.execution.retries")
get_tag_concurrency_limits_config = _private(
    "get_tag_concurrency_limits_config", "dagster._core.execution.tags"
)
CapturedLogContext = _private(
    "CapturedLogContext", "dagster._core.storage.compute_log_manager"
)
ComputeIOType = _private("ComputeIOType", "dagster._core.storage.compute_log_manager")

# The package's launcher (metaflow_dagster.launch): run config defaults, and a run
# executed in a process of its own as the webserver's run launcher would.
ConfigTypeKind = _private("ConfigTypeKind", "dagster._config")
ReconstructableRepository = _private(
    "ReconstructableRepository", "dagster._core.definitions.reconstruct"
)
execute_run = _private("execute_run", "dagster._core.execution.api")

# The tests: a job another process can rebuild (the multiprocess executor needs one),
# Dagster's name rules, a schedule's next times,
ReconstructableJob = _private(
    "ReconstructableJob", "dagster._core.definitions.reconstruct"
)
DISALLOWED_NAMES = _private("DISALLOWED_NAMES", "dagster._core.definitions.utils")
VALID_NAME_REGEX = _private("VALID_NAME_REGEX", "dagster._core.definitions.utils")
schedule_execution_time_iterator = _private(
    "schedule_execution_time_iterator", "dagster._utils.schedules"
)
# and Dagster's own check of a configurable class's config (a run launcher's, say).
process_config = _private("process_config", "dagster._config")

# What the multiprocess executor's fork server imports before it forks op processes.
# `import dagster` alone leaves out what each op process then imports to open the
# instance (storage, SQLAlchemy, Alembic, and the daemon and gRPC modules its classes
# name): measured, ~500 modules and a third of an op's time. These are names, not
# imports: the fork server skips modules that do not import (dagster_postgres when not
# installed, or a module a later Dagster moves), so a stale name costs speed, never
# correctness. All of them import on every supported Dagster.
FORKSERVER_PRELOAD = (
    "dagster",
    "metaflow",
    "dagster._core.instance.factory",
    "dagster._core.storage.event_log",
    "dagster._core.storage.runs",
    "dagster._core.storage.schedules",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._core.storage.root",
    "dagster._core.secrets",
    "dagster._core.snap",
    "dagster._core.workspace",
    "dagster._core.execution.backfill",
    "dagster._daemon",
    "dagster._grpc",
    "dagster._utils.test",
    "dagster_postgres",
    "sqlalchemy",
    "alembic",
    "upath",
    "fsspec",
    "dotenv",
)


class UnsupportedDagsterError(RuntimeError):
    """The thread executor cannot run on this Dagster."""


class UnsupportedVersionWarning(UserWarning):
    """Dagster or Metaflow is outside the versions this generated file supports."""


def _release(version: str | None) -> tuple[int, int] | None:
    """(major, minor) of a version string; None when unknown or unreadable (a source
    checkout of Dagster says `1!0+dev`)."""
    m = re.match(r"^(\d+)\.(\d+)(?:\.|$)", version or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _supported(version: str | None, bounds: tuple[tuple[int, int], ...]) -> bool:
    """Whether `version` is within `bounds`; an unreadable version is given the
    benefit of the doubt (the private names are still checked)."""
    release = _release(version)
    return release is None or bounds[0] <= release <= bounds[-1]


def _range(bounds: tuple[tuple[int, int], ...]) -> str:
    (a, b), (c, d) = bounds[0], bounds[-1]
    return f"{a}.{b} to {c}.{d}"


def thread_executor_problem(running: str = dagster.__version__) -> str | None:
    """Why the thread executor cannot run on Dagster `running` (the installed one),
    or None if it can."""
    if not _supported(running, SUPPORTED_DAGSTER):
        why = f"this process runs Dagster {running}"
    elif _MISSING_PRIVATE:
        why = f"Dagster {running} lacks {', '.join(_MISSING_PRIVATE)}"
    else:
        return None
    low, high = SUPPORTED_DAGSTER[0], SUPPORTED_DAGSTER[-1]
    return (
        "metaflow-dagster's thread executor (the default executor) drives Dagster's "
        f"internal step execution, and supports Dagster {_range(SUPPORTED_DAGSTER)}; "
        f"{why}. Install a supported Dagster (dagster>={low[0]}.{low[1]},"
        f"<{high[0]}.{high[1] + 1}), or a metaflow-dagster that supports Dagster "
        f"{running} and create this file again; or create it with `--executor "
        "multiprocess`, whose runs use only Dagster's public API."
    )


def require_thread_executor() -> None:
    """Raise UnsupportedDagsterError when the thread executor cannot run here."""
    problem = thread_executor_problem()
    if problem is not None:
        raise UnsupportedDagsterError(problem)


def _installed_metaflow() -> str | None:
    # Its distribution's metadata: importing Metaflow to ask would cost every load of
    # the generated file (and every op process) about a second.
    try:
        return importlib.metadata.version("metaflow")
    except importlib.metadata.PackageNotFoundError:
        return None  # e.g. Metaflow from a source tree on PYTHONPATH: not checked


def check_versions(
    compiled_with: dict[str, str], installed: dict[str, str | None] | None = None
) -> list[str]:
    """Warn (UnsupportedVersionWarning) for each of Dagster and Metaflow installed
    here (or as `installed` says) outside the supported versions; `compiled_with`:
    the versions the file was created with, named in the warning. Returns the
    warnings' messages. The generated file calls it as it loads."""
    if installed is None:
        installed = {"dagster": dagster.__version__, "metaflow": _installed_metaflow()}
    bounds = {"dagster": SUPPORTED_DAGSTER, "metaflow": SUPPORTED_METAFLOW}
    messages = []
    for package, version in installed.items():
        if _supported(version, bounds[package]):
            continue
        created = compiled_with.get(package, "an unknown version")
        message = (
            f"This file was created with {package} {created} and supports {package} "
            f"{_range(bounds[package])}; {package} {version} is installed here."
        )
        if package == "dagster":
            message += (
                " Its jobs load, but a run under the thread executor (the default) "
                "will stop at its start: install a supported Dagster, or create the "
                "file again with `--executor multiprocess`."
            )
        else:
            message += (
                " Its tasks run with this Metaflow, which this file's task command "
                "lines were not made for: install a supported Metaflow, or create the "
                "file again with a metaflow-dagster that supports this one."
            )
        warnings.warn(message, UnsupportedVersionWarning, stacklevel=2)
        messages.append(message)
    return messages
