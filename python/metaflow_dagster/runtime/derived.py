"""An op's input paths found from the flow's shape, when ops pass each other nothing.

Why: every value an op hands the next costs Dagster three events (STEP_OUTPUT's
HANDLED_OUTPUT, the reader's LOADED_INPUT and STEP_INPUT), each a write to the run's
event log, in the run's one process; outputs typed `Nothing` cost none of them. Of a
10,000-wide foreach's 110,028 events, 50,006 were those three.

What makes it possible: every task id is fixed by its step and split key
(tasks.task_id_of), so an op can name its inputs' tasks itself, given its own split
key. Outside any foreach that is None. Inside one, the op has only its Dagster mapping
key (keys.py: the items' values where they make keys), so the foreach task's splits are
read once per process into a table, mapping key -> split key, built with the same
function its op built the keys with (fan_out fills it directly in its own process).

Only where that is all it takes (the compiler decides, FlowInfo.derived_inputs): no
switch (an untaken branch passes a marker), no nested foreach (keys of several levels),
no `num_parallel` (mapper tasks), and the thread executor (one process per run: the
table is built once; an op per process would read the foreach's splits once per op).
"""

import threading
from collections.abc import Sequence

from dagster import (
    DagsterInvalidDefinitionError,
    DynamicOutput,
    Failure,
    OpExecutionContext,
)

from .datastore import (
    _done_attempt,
    _foreach_cardinality,
    _item_values,
    _task_datastore,
)
from .keys import mapping_keys, padded, split_value
from .model import FlowInfo, TaskResult
from .tasks import metaflow_run_id, task_id_of

# Foreach task path -> its split keys by mapping key, in split order. Only a new
# attempt of the foreach task can change a table, and only its op makes one: in this
# process, fan_out replaces the table; in another, the table is read afresh.
_TABLES: dict[str, dict[str, str]] = {}
_TABLES_LOCK = threading.Lock()


def _accepted(key: str) -> bool:
    """Whether Dagster takes `key` as a mapping key (its own check, when a dynamic
    output is made: characters, and names reserved in Dagster or Python)."""
    try:
        DynamicOutput(None, mapping_key=key)
    except DagsterInvalidDefinitionError:
        return False
    return True


def foreach_keys(tds: object, num_splits: int) -> tuple[list[str], list[str]]:
    """A top-level foreach task's (mapping keys, split keys), in split order."""
    values = _item_values(tds, num_splits)
    stacks = [[(i, num_splits, values[i])] for i in range(num_splits)]
    keys = mapping_keys(stacks, _accepted)
    return keys, [padded(i, num_splits) for i in range(num_splits)]


def remember_splits(path: str, keys: Sequence[str], splits: Sequence[str]) -> None:
    """What fan_out made of a foreach task, for its splits' ops in this process."""
    with _TABLES_LOCK:
        _TABLES[path] = dict(zip(keys, splits, strict=True))


def _splits(flow: FlowInfo, run_id: str, foreach: str) -> tuple[str, dict[str, str]]:
    """The foreach task's input path and its table (read once per process)."""
    path = f"{run_id}/{foreach}/{task_id_of(flow, foreach, None)}"
    with _TABLES_LOCK:
        table = _TABLES.get(path)
    if table is not None:
        return path, table
    # The latest done attempt: the one the split's task reads its input from (Metaflow
    # input paths name no attempt).
    attempt = _done_attempt(flow, path)
    if attempt is None:
        raise Failure(
            description=f"The foreach task {flow.name}/{path} never finished."
        )
    tds = _task_datastore(flow, TaskResult(path, attempt), foreach)
    keys, splits = foreach_keys(tds, _foreach_cardinality(foreach, tds))
    remember_splits(path, keys, splits)
    return path, dict(zip(keys, splits, strict=True))


def derived_inputs(context: OpExecutionContext, flow: FlowInfo, step: str) -> list[str]:
    """The input paths of `step`'s task in this op, as values would have carried them:
    a split's first step gets `<foreach task>#<index>`, a foreach join every split's
    task in split order, any other step its inputs' tasks of its own split."""
    info = flow.steps[step]
    run_id = metaflow_run_id(context)
    key = None
    if info.within is not None:
        path, table = _splits(flow, run_id, info.within)
        key = table.get(context.get_mapping_key() or "")
        if key is None:
            raise Failure(
                description=f"The foreach task {flow.name}/{path} has no split named "
                f"{context.get_mapping_key()!r} (ran again with other items?).",
                allow_retries=False,
            )
        if info.split:
            return [split_value(path, key)]
    paths = []
    for name in info.inputs:
        closed = flow.steps[name].within
        if info.foreach_join and closed is not None:
            _, table = _splits(flow, run_id, closed)
            keys = list(table.values())
        else:
            keys = [key]
        paths += [f"{run_id}/{name}/{task_id_of(flow, name, k)}" for k in keys]
    return paths
