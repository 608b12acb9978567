"""Op outputs kept in the Dagster run's event log, for executors sharing no disk.

Dagster hands an op's outputs to the ops downstream through the job's IO manager. Its
default (fs_io_manager) pickles each output under $DAGSTER_HOME/storage, which works
only where every step runs on one machine (or a shared filesystem): a Celery worker or
a Kubernetes pod that runs the next op finds no such file (`FileNotFoundError
.../storage/<run>/op_start/result/1`). Our ops hand each other small strings, never
data: Metaflow input paths (`run/step/task`), a marker for an untaken branch, or, for a
regrouped segment, a list of them.

What every distributed Dagster deployment shares already is its instance storage: the
Celery and Kubernetes executors need one run and event log database (Postgres or MySQL)
that the run's process and every worker write to, since the run's process learns what
its steps did from there. So `event_log_io_manager` keeps each output in that event
log: `handle_output` records the value as metadata of the output's HANDLED_OUTPUT
event (Dagster writes that event as the step runs, before the step succeeds), and
`load_input` reads it back from the events of the run that produced the output. It
needs no bucket, no shared volume and no configuration, and the value shows in the UI
beside the output. Recomputing the value instead would read Metaflow's datastore for
each input (a foreach's number of splits, a switch's choice, a loop's last iteration),
and duplicate the ops' logic in a second place.

Re-execution works as with Dagster's own IO managers: for an upstream step not executed
again, Dagster names the run that produced its output (`upstream_output.run_id`, the
parent run or an earlier ancestor) and the value is read from that run's events. A
dynamic output (a foreach's splits) has one HANDLED_OUTPUT event per mapping key: the
key is recorded with the value. Events of a run only accumulate, and a value is
deterministic per (run, step, output, key), so the events read are kept per run for
the life of the IO manager (one step, or one in-process run), and only newer ones read
on a miss.
"""

import threading
from collections.abc import Iterator
from typing import Any

from dagster import (
    DagsterEventType,
    DagsterInstance,
    InitResourceContext,
    InputContext,
    IOManager,
    MetadataValue,
    OutputContext,
    io_manager,
)

# The metadata entry of an output's HANDLED_OUTPUT event that holds its value.
OUTPUT_VALUE_KEY = "metaflow/output"

# One output of a run: (step key, output name, mapping key or None).
_OutputKey = tuple[str, str, str | None]


class OutputNotRecordedError(RuntimeError):
    """An upstream output is not in the Dagster instance's event log."""


class _RunOutputs:
    """The output values recorded in one run's event log, read incrementally."""

    def __init__(self) -> None:
        self.cursor: str | None = None
        self.values: dict[_OutputKey, Any] = {}

    def refresh(self, instance: DagsterInstance, run_id: str) -> None:
        for key, value in _recorded_since(self, instance, run_id):
            # A retried step records its outputs again (the same values): keep the last.
            self.values[key] = value


def _recorded_since(
    outputs: _RunOutputs, instance: DagsterInstance, run_id: str
) -> Iterator[tuple[_OutputKey, Any]]:
    while True:
        connection = instance.get_records_for_run(
            run_id, cursor=outputs.cursor, of_type=DagsterEventType.HANDLED_OUTPUT
        )
        for record in connection.records:
            event = record.event_log_entry.dagster_event
            if event is None or event.step_key is None:
                continue
            data = event.event_specific_data
            entry = getattr(data, "metadata", {}).get(OUTPUT_VALUE_KEY)
            if entry is None:
                continue
            recorded = entry.value
            key = (event.step_key, data.output_name, recorded.get("mapping_key"))
            yield key, recorded.get("value")
        outputs.cursor = connection.cursor
        if not connection.has_more:
            return


class EventLogIOManager(IOManager):
    """Keeps each op output (a JSON value) in its HANDLED_OUTPUT event.

    Under the thread executor every op of a run shares this one IO manager: what an op
    hands on is kept in memory as well, so the event log is read only for outputs of
    another process (a Celery worker's op, a parent run's), once per miss and one
    thread at a time (op threads must not read the run's event log while the run's
    thread writes it: SQLite locks the table)."""

    def __init__(self) -> None:
        self._runs: dict[str, _RunOutputs] = {}
        self._lock = threading.Lock()

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        key: _OutputKey = (context.step_key, context.name, context.mapping_key)
        with self._lock:
            self._runs.setdefault(context.run_id, _RunOutputs()).values[key] = obj
        context.add_output_metadata(
            {
                OUTPUT_VALUE_KEY: MetadataValue.json(
                    {"mapping_key": context.mapping_key, "value": obj}
                )
            }
        )

    def load_input(self, context: InputContext) -> Any:
        upstream = context.upstream_output
        if upstream is None:
            raise OutputNotRecordedError(
                f"Input {context.name!r} of op {context.op_def.name!r} has no upstream "
                "output to load."
            )
        run_id = upstream.run_id
        key: _OutputKey = (upstream.step_key, upstream.name, upstream.mapping_key)
        with self._lock:
            outputs = self._runs.setdefault(run_id, _RunOutputs())
            if key not in outputs.values:
                outputs.refresh(context.instance, run_id)
        if key not in outputs.values:
            mapped = "" if key[2] is None else f" (mapping key {key[2]!r})"
            raise OutputNotRecordedError(
                f"Output {key[1]!r} of step {key[0]!r}{mapped} of Dagster run {run_id} "
                "is not in the Dagster instance's event log. This job passes op "
                "outputs through the event log: the run's process and every worker "
                "must use the same Dagster instance storage (the same dagster.yaml, "
                "with Postgres or MySQL run and event log storage)."
            )
        return outputs.values[key]


@io_manager(
    description="Op outputs (Metaflow input paths) kept in the Dagster run's event "
    "log, which every worker of a distributed deployment shares: no disk needed."
)
def event_log_io_manager(_init_context: InitResourceContext) -> EventLogIOManager:
    return EventLogIOManager()
