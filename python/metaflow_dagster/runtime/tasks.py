"""One Metaflow task: its ids, its `step` command line, the run's `init`."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import DagsterRun, Failure, OpExecutionContext

from .datastore import (
    _chosen_step,
    _done_attempt,
    _mapper_tasks,
    _next_attempt,
    _num_parallel,
    _params_task_done,
    _unfinished,
    datastore_root,
    import_metaflow,
)
from .errors import user_exception
from .keys import split_parts, split_value
from .model import (
    EXIT_DISALLOW_RETRY,
    MAX_LOOP_ITERATIONS,
    NOT_TAKEN,
    PARAMS_TASK_ID,
    FlowInfo,
    TaskResult,
)
from .process import _compress, _launch, _top_level_args

# ---------------------------------------------------------------------------------
# One task: ids, command line, subprocess, logs


def metaflow_run_id(context: OpExecutionContext) -> str:
    """The Metaflow run id of the op's Dagster run."""
    return metaflow_run_id_of(context.run)


def metaflow_run_id_of(run: DagsterRun) -> str:
    """The Metaflow run id of a Dagster run: re-executions share their root run's id."""
    return "dagster-" + (run.root_run_id or run.run_id)


def _task_id(flow: FlowInfo, step: str, inputs: Sequence[str]) -> str:
    return task_id_of(flow, step, _split_key(flow, step, inputs))


def _split_key(flow: FlowInfo, step: str, inputs: Sequence[str]) -> str | None:
    """The split key (keys.py) of an op's task, from its inputs: a split's first op
    gets its parent's input path and its index from the foreach op; any other op of
    a foreach body its predecessors' task ids, which hold the key; a foreach join the
    key of the splits it closes, less their own index. None outside any foreach."""
    for value in inputs:
        path, index = split_parts(value)
        if index is not None:
            parent = _key_of(path)
            return f"{parent}_{index}" if parent else index
    live = [path for path in inputs if path != NOT_TAKEN]
    if not live:
        return None
    key = _key_of(live[0])
    if flow.steps[step].foreach_join:
        key = key.rpartition("_")[0]
    return key or None


# Hex digits of a step's tag in its task ids; more only if two steps share a prefix.
STEP_TAG_LENGTH = 8


def task_id_of(flow: FlowInfo, step: str, split_key: str | None) -> str:
    """The task id of an op's task: `t-<step tag>[-<split key>]`.

    Unique within the run, as Metaflow's runtimes make task ids (user code keys data on
    `current.task_id`), and the same for every attempt, re-execution and resume of the
    task (they find its earlier attempts by it). Never all digits (Metaflow's metadata
    would take it for an id it allocated). A self-looping switch's iterations add
    `-i<n>` (_run_loop); a @parallel control's workers get `<control id>_node_<n>`
    from Metaflow. The split key (keys.py; None outside any foreach) is read back by
    _key_of.
    """
    tag = f"t-{_step_tag(flow, step)}"
    return tag if split_key is None else f"{tag}-{split_key}"


def _step_tag(flow: FlowInfo, step: str) -> str:
    """The shortest prefix (at least STEP_TAG_LENGTH) of the SHA-1 of the step's name
    that no other step of the flow shares: lowercase hex, fixed by the step names."""
    digests = {name: _digest(name) for name in (*flow.steps, step)}
    digest = digests[step]
    others = [d for name, d in digests.items() if name != step]
    size = STEP_TAG_LENGTH
    while size < len(digest) and any(d.startswith(digest[:size]) for d in others):
        size += 1
    return digest[:size]


def _digest(step: str) -> str:
    # A name, not a secret: FIPS-restricted builds allow SHA-1 for this.
    return hashlib.sha1(step.encode("utf-8"), usedforsecurity=False).hexdigest()


def _taken(
    context: OpExecutionContext, step: str, inputs: Sequence[str]
) -> list[str] | None:
    """Inputs from branches that ran; None when this op lies on an untaken branch."""
    live = [path for path in inputs if path != NOT_TAKEN]
    if inputs and not live:
        context.log.info(f"Step {step!r} is on a branch this split did not take.")
        return None
    return live


def _key_of(input_path: str) -> str:
    """The split key in a task id `t-<tag>[-<key>][-i<iteration>]` (see task_id_of;
    "" outside any foreach). Keys are digits and underscores, tags hex digits."""
    parts = input_path.rsplit("/", 1)[-1].split("-")
    return parts[2] if len(parts) > 2 and not parts[2].startswith("i") else ""


def _run_task(
    context: OpExecutionContext,
    flow: FlowInfo,
    step_name: str,
    inputs: Sequence[str],
    params: Mapping[str, Any] | None,
    *,
    task_id: str | None = None,
) -> TaskResult:
    # Before anything of this op touches Metaflow (see import_metaflow).
    import_metaflow()
    step = flow.steps[step_name]
    run_id = metaflow_run_id(context)
    task_id = task_id or _task_id(flow, step_name, inputs)
    inputs, index = _split_inputs(inputs)
    attempt = _next_attempt(context, flow, f"{run_id}/{step_name}/{task_id}")
    root = datastore_root(flow)
    if step_name == flow.start_step and not inputs:
        inputs = [_init_run(context, flow, run_id, root, params or {})]
    elif step.parallel_join:
        inputs = _mapper_tasks(flow, inputs)
    elif step.foreach_join:
        inputs = sorted(inputs, key=_split_position)
    split_index = None
    if step.split:
        if index is None:
            raise Failure(
                description=f"Step {step_name!r} needs a foreach split index."
            )
        split_index = int(index)
    args = [
        *_top_level_args(flow, root, step.with_specs),
        "step",
        step_name,
        "--run-id",
        run_id,
        "--task-id",
        task_id,
        "--retry-count",
        str(attempt),
        "--max-user-code-retries",
        str(step.user_retries),
        "--input-paths",
        _compress(inputs),
    ]
    if step.parallel:
        args += ["--ubf-context", "ubf_control", "--split-index", "0"]
        args += ["--num-parallel", str(_num_parallel(flow, inputs))]
    elif split_index is not None:
        args += ["--split-index", str(split_index)]
    for tag in flow.tags:
        args += ["--tag", tag]
    if flow.namespace is not None:
        args += ["--namespace", flow.namespace]
    pathspec = f"{run_id}/{step_name}/{task_id}"
    exited = _launch(
        context,
        flow,
        args,
        run_id,
        extra_env=step.env,
        log_target=(pathspec, attempt),
    )
    if exited.code != 0:
        # The user's exception first: Dagster shows a message's first lines.
        raised = user_exception(exited.stderr_tail, flow.flow_dir)
        raise Failure(
            description=("" if raised is None else f"{raised}\n\n")
            + f"Metaflow task {flow.name}/{pathspec} (attempt {attempt}) "
            f"failed: {exited.reason()}",
            metadata={
                "metaflow pathspec": f"{flow.name}/{pathspec}",
                "exit code": exited.code,
            },
            allow_retries=exited.code != EXIT_DISALLOW_RETRY,
        )
    result = TaskResult(input_path=pathspec, attempt=attempt)
    _accept(flow, result, step_name)
    return result


def _accept(flow: FlowInfo, result: TaskResult, step: str) -> None:
    """Fail unless Metaflow recorded this attempt, which exited 0, as done.

    Not retried, whatever the step's @retry: Metaflow's runtime retries only a task
    that exited non-zero; one that exited 0 without finishing fails the run.
    """
    problem = _unfinished(flow, result, step)
    if problem is not None:
        pathspec = f"{flow.name}/{result.input_path}"
        raise Failure(
            description=f"Metaflow task {pathspec} (attempt {result.attempt}) exited "
            f"with code 0 but did not finish: {problem}",
            metadata={"metaflow pathspec": pathspec, "exit code": 0},
            allow_retries=False,
        )


def _split_inputs(inputs: Sequence[str]) -> tuple[list[str], str | None]:
    """Metaflow input paths of an op's inputs, and the split index a foreach op handed
    it (None if none did)."""
    paths: list[str] = []
    index = None
    for value in inputs:
        path, marked = split_parts(value)
        paths.append(path)
        index = marked if marked is not None else index
    return paths, index


def _split_position(input_path: str) -> tuple[int, ...]:
    """A foreach task's position among its siblings, from the key in its task id."""
    return _key_position(_key_of(input_path))


def _key_position(key: str) -> tuple[int, ...]:
    """The split indexes a split key `<index>[_<index>...]` stands for."""
    return tuple(int(part) for part in key.split("_") if part.isdigit())


def _run_loop(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    inputs: Sequence[str],
    params: Mapping[str, Any] | None,
) -> tuple[TaskResult, str, list[str]]:
    """Iterate a self-looping switch: each iteration is a task fed by the previous one.

    Iterations that already succeeded (before a retry of this op) are not run again.
    """
    base = _task_id(flow, step, inputs)
    # A loop right after a foreach: each iteration is a task of the same split.
    index = _split_inputs(inputs)[1]
    iterations: list[str] = []
    previous = list(inputs)
    for n in range(MAX_LOOP_ITERATIONS):
        path = f"{metaflow_run_id(context)}/{step}/{base}-i{n}"
        done = _done_attempt(flow, path)
        # An iteration done before (this op's earlier attempt, or the run this one
        # re-executes) is kept only if Metaflow would accept it; else it runs again,
        # as its next attempt (counting attempts that never finished, as _run_task
        # does for any task).
        if done is not None and _unfinished(flow, TaskResult(path, done), step) is None:
            result = TaskResult(path, done)
        else:
            result = _run_task(
                context,
                flow,
                step,
                previous,
                params if n == 0 else None,
                task_id=f"{base}-i{n}",
            )
        iterations.append(f"{flow.name}/{path}")
        chosen = _chosen_step(flow, result, step)
        context.log.info(f"Iteration {n} of {step!r} ({path}) chose {chosen!r}.")
        if chosen != step:
            return result, chosen, iterations
        path = result.input_path
        previous = [path if index is None else split_value(path, index)]
    raise Failure(
        description=f"Step {step!r} looped {MAX_LOOP_ITERATIONS} times without exiting."
    )


def _init_run(
    context: OpExecutionContext,
    flow: FlowInfo,
    run_id: str,
    root: str | None,
    params: Mapping[str, Any],
) -> str:
    """Create the run's `_parameters` task once, even when the start op retries."""
    path = f"{run_id}/_parameters/{PARAMS_TASK_ID}"
    if _params_task_done(flow, run_id):
        context.log.info(f"Parameters task {path} exists; not initialising again.")
        return path
    args = [*_top_level_args(flow, root, ()), "init", "--run-id", run_id]
    args += ["--task-id", PARAMS_TASK_ID]
    for tag in flow.tags:
        args += ["--tag", tag]
    env = parameter_env(flow, params)
    exited = _launch(context, flow, args, run_id, extra_env=env)
    if exited.code != 0:
        raise Failure(
            description=f"Metaflow init of {flow.name}/{run_id} failed "
            f"(check the parameter values): {exited.reason()}",
            allow_retries=False,
        )
    if not _params_task_done(flow, run_id):
        raise Failure(
            description=f"Metaflow init of {flow.name}/{run_id} exited with code 0 "
            f"but did not finish: no completed {path} was found.",
            allow_retries=False,
        )
    return path


def parameter_env(flow: FlowInfo, params: Mapping[str, Any]) -> dict[str, str]:
    """Parameter values as the `METAFLOW_INIT_<NAME>` variables `init` reads."""
    env: dict[str, str] = {}
    for name, value in params.items():
        kind = flow.parameters.get(name)
        if kind is None:
            raise Failure(description=f"{flow.name} has no parameter {name!r}.")
        # Metaflow reads an empty value as an error, not as "use the default".
        # None means "use the default"; an empty string is a value, as natively.
        if value is None:
            continue
        if kind == "json":
            text = _json_text(flow, name, value)
        elif kind == "float":
            text = repr(float(value))
        elif kind == "bool":
            text = "true" if value else "false"
        else:
            text = str(value)
        variable = "METAFLOW_INIT_" + name.upper().replace("-", "_")
        _check_passable(flow, name, variable, text)
        env[variable] = text
    return env


def _json_text(flow: FlowInfo, name: str, value: Any) -> str:
    """A JSON parameter's text for `init`. A string is JSON text, as Metaflow's CLI
    takes it (`--p '{"a": 1}'`, `--p '"text"'`), whether typed in the launchpad or
    passed by `dagster trigger` or the Deployer; any other value is the value."""
    if not isinstance(value, str):
        return json.dumps(value)
    try:
        json.loads(value)
    except ValueError as exc:
        raise Failure(
            description=f"Parameter {name!r} of {flow.name} takes JSON, and {value!r} "
            f"is not JSON text ({exc}); Metaflow's `--{name}` would refuse it too. "
            "A string value is written with its quotes: '\"text\"'.",
            allow_retries=False,
        ) from None
    return value


# Linux's MAX_ARG_STRLEN: no single environment string ("NAME=value" and its NUL) may be
# longer. Metaflow's own runtime hands parameters to `init` the same way, so a native
# run fails on such values too, only less clearly.
MAX_ENV_STRING_BYTES = 32 * 4096


def _check_passable(flow: FlowInfo, name: str, variable: str, text: str) -> None:
    """Refuse, naming the parameter, a value no environment variable can carry."""
    problem = None
    try:
        # As os.environ encodes values (os.fsencode).
        size = len(variable) + 1 + len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        problem = "contains a lone surrogate, which no environment variable can hold"
        size = 0
    if "\0" in text:
        problem = "contains a NUL character, which no environment variable can hold"
    elif size + 1 > MAX_ENV_STRING_BYTES:
        problem = (
            f"is {size - len(variable) - 1} bytes long; Metaflow passes parameter "
            f"values to `init` in an environment variable, which Linux limits to "
            f"{MAX_ENV_STRING_BYTES} bytes"
        )
    if problem is not None:
        raise Failure(
            description=f"Parameter {name!r} of {flow.name}: the value {problem}.",
            allow_retries=False,
        )
