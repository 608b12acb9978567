"""What a foreach split is called: the key in its task ids, and its Dagster mapping key.

Two names, because they serve two readers. The *split key* (`07`, `1_03`: each
enclosing split's index, zero-padded, outermost first) is in the task ids of every task
of the split (tasks.task_id_of): Metaflow's runtime and re-executions find tasks by
it, and a foreach join orders its inputs by it. The *mapping key* is what Dagster's UI
shows after an op's name (`op_train[alpha]`): the split's item values where they make
valid keys, else the same indexes. Nothing ever reads a task's split key back from its
mapping key: a split's first op gets it from its foreach op's output
(`<parent input path>#<index>`), every later op from its inputs' task ids.

Item values are Metaflow's own (`_foreach_values`, and each frame's `value` in
`_foreach_stack`: the item for strings and numbers, else a short repr, at most 30
characters; absent with METAFLOW_INCLUDE_FOREACH_STACK=0 or an older Metaflow).
"""

import re
from collections.abc import Callable, Mapping, Sequence

# Between a foreach task's input path and a split index in the value its op hands a
# split (Metaflow input paths, `run/step/task`, never hold one).
SPLIT_MARK = "#"
# An item value used as (a level of) a mapping key: what Dagster accepts in one, not
# starting or ending with `_`, which joins the levels of a nested foreach.
_KEY_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")

# One level of a split's foreach stack: (split index, number of splits, item value).
Frame = tuple[int, int, str | None]


def _is_key_part(value: str | None) -> bool:
    return isinstance(value, str) and _KEY_PART.match(value) is not None


def split_value(path: str, index: str) -> str:
    """What a foreach op hands one split: its own input path, and the split's index."""
    return f"{path}{SPLIT_MARK}{index}"


def split_parts(value: str) -> tuple[str, str | None]:
    """An op input as (Metaflow input path, zero-padded split index or None)."""
    path, mark, index = value.partition(SPLIT_MARK)
    return path, (index if mark else None)


def padded(index: int, num_splits: int) -> str:
    """A split index as split keys hold it: zero-padded to sort like the indexes."""
    return str(index).zfill(len(str(num_splits - 1)))


def level_labels(values: Mapping[int, str | None], num_splits: int) -> dict[int, str]:
    """Labels of sibling splits (same enclosing splits), by index: their item values
    when every one is a valid key part (all-digit values zero-padded to one width, so
    they sort), else their zero-padded indexes."""
    texts = {i: v for i, v in values.items() if _is_key_part(v)}
    if texts and len(texts) == len(values):
        if all(v.isdigit() for v in texts.values()):
            width = max(len(v) for v in texts.values())
            return {i: v.zfill(width) for i, v in texts.items()}
        return texts
    return {i: padded(i, num_splits) for i in values}


def mapping_keys(
    stacks: Sequence[Sequence[Frame]], accepted: Callable[[str], bool]
) -> list[str]:
    """Dagster mapping keys for splits given their foreach stacks (outermost first):
    each level labelled as level_labels decides for its siblings, the levels joined by
    `_`; the split keys instead if that would name two splits alike, or make a key
    Dagster refuses (`accepted`: its reserved names, such as `input` or `class`)."""
    decided: dict[tuple[int, tuple[int, ...]], dict[int, str]] = {}
    groups: dict[tuple[int, tuple[int, ...]], tuple[dict[int, str | None], int]] = {}
    for stack in stacks:
        for level, (index, num_splits, value) in enumerate(stack):
            prefix = tuple(frame[0] for frame in stack[:level])
            groups.setdefault((level, prefix), ({}, num_splits))[0][index] = value
    for group, (values, num_splits) in groups.items():
        decided[group] = level_labels(values, num_splits)
    keys = [
        "_".join(
            decided[level, tuple(f[0] for f in stack[:level])][frame[0]]
            for level, frame in enumerate(stack)
        )
        for stack in stacks
    ]
    if len(set(keys)) == len(keys) and all(accepted(key) for key in keys):
        return keys
    return ["_".join(padded(i, n) for i, n, _ in stack) for stack in stacks]
