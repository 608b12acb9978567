"""Entry points the generated ops call: one Metaflow task (or a loop of them) per op."""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dagster import (
    DynamicOutput,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
)

from .assets import report_assets
from .cards import _card_metadata
from .datastore import (
    _chosen_step,
    _done_attempt,
    _foreach_cardinality,
    _foreach_frames,
    _item_values,
    _latest_datastore,
    _task_datastore,
    _task_metadata,
)
from .derived import _accepted, derived_inputs, foreach_keys, remember_splits
from .keys import Frame, mapping_keys, padded, split_value
from .model import GUARD_OUTPUT, NOT_TAKEN, FlowInfo, TaskResult
from .tasks import (
    _key_of,
    _key_position,
    _run_loop,
    _run_task,
    _split_position,
    _taken,
)

# ---------------------------------------------------------------------------------
# Entry points called by generated ops


def run_step(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    inputs: Sequence[str] = (),
    *,
    params: Mapping[str, Any] | None = None,
    guard: bool = False,
) -> str | None:
    """Run one Metaflow task of `step`; return its input path for the next ops (None
    where they find it themselves: derived.py)."""
    if flow.derived_inputs:
        inputs = derived_inputs(context, flow, step)
    if guard and all(path == NOT_TAKEN for path in inputs):
        # The end op's fan-in also reads the start op's guard output, so it runs even
        # when none of its real inputs came, and fails the run here.
        raise Failure(
            description=f"Step {step!r} of {flow.name} got none of its inputs: "
            "a branch that should have run was skipped, so the run did not finish."
        )
    live = _taken(context, step, inputs)
    if live is None:
        return NOT_TAKEN
    result = _run_task(context, flow, step, live, params)
    metadata = _task_metadata(flow, result, step)
    metadata.update(_card_metadata(context, flow, result, step))
    context.add_output_metadata(metadata, output_name="result")
    if step == flow.end_step:
        report_assets(context, flow, result)
    return None if flow.derived_inputs else result.input_path


def run_start(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    *,
    params: Mapping[str, Any] | None = None,
) -> Iterator[Output[str]]:
    """Run the start step, then emit the guard output the end op also reads."""
    yield Output(run_step(context, flow, step, params=params))
    yield Output(NOT_TAKEN, output_name=GUARD_OUTPUT)


def fan_out(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    inputs: Sequence[str] = (),
    *,
    params: Mapping[str, Any] | None = None,
    emit_guard: bool = False,
) -> Iterator[DynamicOutput[str | None] | Output[str]]:
    """Run a foreach step, then yield one dynamic output per split, in split order,
    keyed by the items' values where they make keys (keys.py)."""
    if flow.derived_inputs:
        inputs = derived_inputs(context, flow, step)
    result = _run_task(context, flow, step, inputs, params)
    tds = _task_datastore(flow, result, step)
    num_splits = _foreach_cardinality(step, tds)
    _check_num_splits(flow, step, num_splits)
    context.log.info(f"Foreach yields {num_splits} child steps.")
    metadata = _task_metadata(flow, result, step)
    metadata.update(_card_metadata(context, flow, result, step))
    keys, splits = foreach_keys(tds, num_splits)
    if flow.derived_inputs:
        remember_splits(result.input_path, keys, splits)
    for index, (key, split) in enumerate(zip(keys, splits, strict=True)):
        yield DynamicOutput(
            None if flow.derived_inputs else split_value(result.input_path, split),
            mapping_key=key,
            metadata=metadata if index == 0 else {"split index": index},
        )
    if emit_guard:
        yield Output(NOT_TAKEN, output_name=GUARD_OUTPUT)


def run_switch(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    inputs: Sequence[str] = (),
    *,
    params: Mapping[str, Any] | None = None,
    emit_guard: bool = False,
) -> Iterator[Output[str]]:
    """Run a switch step (each iteration, if it loops); yield only the chosen branch."""
    info = flow.steps[step]
    live = _taken(context, step, inputs)
    if live is None:
        for output in sorted(set(info.branches.values())):
            yield Output(NOT_TAKEN, output_name=output)
        return
    inputs = live
    if not info.loop:
        result = _run_task(context, flow, step, inputs, params)
        chosen = _chosen_step(flow, result, step)
        metadata = _task_metadata(flow, result, step)
    else:
        result, chosen, iterations = _run_loop(context, flow, step, inputs, params)
        metadata = _task_metadata(flow, result, step)
        metadata["iterations"] = MetadataValue.json(iterations)
    metadata.update(_card_metadata(context, flow, result, step))
    output = info.branches.get(chosen)
    if output is None:
        raise Failure(
            description=f"Step {step!r} chose {chosen!r}, which is not one of its "
            f"branches {sorted(info.branches)}."
        )
    context.log.info(f"Switch {step!r} chose {chosen!r}.")
    metadata["chosen step"] = chosen
    yield Output(result.input_path, output_name=output, metadata=metadata)
    if info.mapped:
        for other in sorted(set(info.branches.values()) - {output}):
            yield Output(NOT_TAKEN, output_name=other)
    if emit_guard:
        yield Output(NOT_TAKEN, output_name=GUARD_OUTPUT)


def split_again(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    tasks: Sequence[str],
) -> Iterator[DynamicOutput[str]]:
    """A nested foreach's splits, one dynamic output per (outer split, split index),
    keyed by the items' values at every level where they make keys (keys.py)."""
    splits: list[str] = []
    split_keys: list[str] = []
    stacks: list[list[Frame]] | None = []
    for path in sorted((t for t in tasks if t != NOT_TAKEN), key=_split_position):
        tds = _task_datastore(flow, TaskResult(path, _done_attempt(flow, path)), step)
        num_splits = _foreach_cardinality(step, tds)
        _check_num_splits(flow, step, num_splits)
        values = _item_values(tds, num_splits)
        outer = _foreach_frames(tds)
        if outer is None or len(outer) != len(_key_of(path).split("_")):
            stacks = None  # frames unreadable: every split keyed by its split key
        for index in range(num_splits):
            splits.append(split_value(path, padded(index, num_splits)))
            split_keys.append(f"{_key_of(path)}_{padded(index, num_splits)}")
            if stacks is not None and outer is not None:
                stacks.append([*outer, (index, num_splits, values[index])])
    keys = split_keys if stacks is None else mapping_keys(stacks, _accepted)
    for value, key in zip(splits, keys, strict=True):
        yield DynamicOutput(value, mapping_key=key)
    context.log.info(f"Foreach {step!r} yields {len(splits)} child steps in all.")


def _check_num_splits(flow: FlowInfo, step: str, num_splits: int) -> None:
    """--max-num-splits, checked per foreach task as Metaflow's runtime does."""
    limit = flow.max_num_splits
    if limit is not None and num_splits > limit:
        raise Failure(
            # Metaflow's message as `run` prints it (its *step* shown in bold).
            description=f"Foreach in step {step} yielded {num_splits} child steps "
            f"which is more than the current maximum of {limit} children. You can "
            "raise the maximum with the --max-num-splits option. (An option of "
            "`dagster create`: regenerate the definitions file with a higher one.)",
            allow_retries=False,
        )


def regroup(
    context: OpExecutionContext,
    flow: FlowInfo,
    step: str,
    groups: Sequence[Sequence[str]],
) -> Iterator[DynamicOutput[list[str]]]:
    """Inputs of `step` collected across splits, grouped again per split of `step`."""
    info = flow.steps[step]
    per_key: dict[str, list[str]] = {}
    for group in groups:
        for path in group:
            if path == NOT_TAKEN:
                continue
            key = _key_of(path)
            if info.foreach_join:
                # The join closes the innermost foreach: group by the enclosing splits.
                key = key.rpartition("_")[0]
            per_key.setdefault(key, []).append(path)
    ordered = sorted(per_key, key=_key_position)
    # Named as the ops of these splits were before the segment (keys.py): by the
    # enclosing frames of one task of each.
    stacks: list[list[Frame]] = []
    for key in ordered:
        frames = _foreach_frames(_latest_datastore(flow, per_key[key][0]))
        if frames is not None and info.foreach_join:
            frames = frames[:-1]
        if frames is None or len(frames) != len(key.split("_")):
            stacks = []
            break
        stacks.append(frames)
    keys = mapping_keys(stacks, _accepted) if stacks else ordered
    for key, label in zip(ordered, keys, strict=True):
        yield DynamicOutput(per_key[key], mapping_key=label)
    context.log.info(f"Step {step!r} runs once for each of {len(per_key)} splits.")
