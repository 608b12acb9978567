"""Sensors for @trigger_on_finish and @trigger, and the one that fails lost runs."""

import json
import time
from collections.abc import Mapping
from typing import Any

from .model import (
    EVENT_ASSET_PREFIX,
    EVENTS_TAG,
    HEARTBEAT_TAG,
    SENSOR_BATCH,
    TRIGGER_TAG,
    FlowInfo,
)


def upstream_finished(context: Any, flow: FlowInfo) -> Any:
    """@trigger_on_finish: one run per successful Metaflow run of the upstream job(s).

    Reads RUN_SUCCESS events after the cursor (its first tick only records where "now"
    is: runs that finished before the sensor existed never trigger). With several
    upstream flows, a run starts once each of them finished since the last run. The run
    key is the upstream Metaflow run pathspec(s): a re-executed upstream run (same
    Metaflow run) does not trigger twice.
    """
    from dagster import (
        DagsterEventType,
        RunRequest,
        RunStatusChangeRecordsFilter,
        SensorResult,
    )

    instance = context.instance
    state = json.loads(context.cursor) if context.cursor else None
    if state is None:
        latest = instance.fetch_run_status_changes(
            DagsterEventType.RUN_SUCCESS, limit=1
        ).records
        after = latest[0].storage_id if latest else 0
        return SensorResult(cursor=json.dumps({"after": after, "pending": {}}))
    pending: dict[str, str] = state["pending"]
    records = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(
            event_type=DagsterEventType.RUN_SUCCESS, after_storage_id=state["after"]
        ),
        limit=SENSOR_BATCH,
        ascending=True,
    ).records
    requests = []
    after = state["after"]
    for record in records:
        after = record.storage_id
        job_name = record.event_log_entry.job_name
        if job_name not in flow.trigger_on_finish:
            continue
        run = instance.get_run_by_id(record.event_log_entry.run_id)
        upstream_flow = None if run is None else run.tags.get("metaflow/flow")
        if run is None or upstream_flow is None:
            context.log.warning(f"Run of {job_name} has no Metaflow flow tag; ignored.")
            continue
        pending[job_name] = f"{upstream_flow}/dagster-{run.root_run_id or run.run_id}"
        if all(name in pending for name in flow.trigger_on_finish):
            runs = " ".join(pending[name] for name in flow.trigger_on_finish)
            context.log.info(f"{runs} finished: starting {flow.name}.")
            requests.append(RunRequest(run_key=runs, tags={TRIGGER_TAG: runs}))
            pending = {}
    return SensorResult(
        run_requests=requests,
        cursor=json.dumps({"after": after, "pending": pending}),
    )


def events_arrived(context: Any, flow: FlowInfo, start_op: str | None) -> Any:
    """@trigger: one run per arrival of the flow's Metaflow event(s).

    A Metaflow event N is an asset materialization of AssetKey(["metaflow_event", N])
    (e.g. reported with `instance.report_runless_asset_event`); its metadata entries
    are the event's payload. Payload fields become the start op's parameters through
    the decorator's mapping. Events before the sensor's first tick are not used; with
    several events, a run starts once each of them arrived since the last run (the
    latest payload of each counts).
    """
    from dagster import AssetKey, AssetRecordsFilter, RunRequest, SensorResult

    instance = context.instance
    state = json.loads(context.cursor) if context.cursor else None
    keys = {name: AssetKey([EVENT_ASSET_PREFIX, name]) for name in flow.trigger_events}
    if state is None:
        after = {}
        for name, key in keys.items():
            latest = instance.fetch_materializations(key, limit=1).records
            after[name] = latest[0].storage_id if latest else 0
        return SensorResult(cursor=json.dumps({"after": after, "pending": {}}))
    after, pending = state["after"], state["pending"]
    arrivals = []
    for name, key in keys.items():
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, after_storage_id=after.get(name, 0)),
            limit=SENSOR_BATCH,
            ascending=True,
        ).records
        for record in records:
            arrivals.append((record.storage_id, name, record))
            after[name] = record.storage_id
    requests = []
    for storage_id, name, record in sorted(arrivals, key=lambda a: a[0]):
        metadata = record.asset_materialization.metadata
        payload = {k: getattr(v, "value", v) for k, v in metadata.items()}
        pending[name] = {
            "id": storage_id,
            "timestamp": record.timestamp,
            "payload": payload,
        }
        if not all(n in pending for n in flow.trigger_events):
            continue
        try:
            config = _event_parameters(flow, pending)
        except (TypeError, ValueError) as exc:
            context.log.error(f"Events {sorted(pending)} not used: {exc}")
            pending = {}
            continue
        run_config = {}
        if config and start_op is not None:
            run_config = {"ops": {start_op: {"config": config}}}
        events = [
            {
                "name": n,
                "id": str(pending[n]["id"]),
                "timestamp": pending[n]["timestamp"],
            }
            for n in flow.trigger_events
        ]
        key = " ".join(f"{e['name']}:{e['id']}" for e in events)
        context.log.info(f"Events {key} arrived: starting {flow.name}.")
        requests.append(
            RunRequest(
                run_key=key,
                run_config=run_config,
                tags={EVENTS_TAG: json.dumps(events)},
            )
        )
        pending = {}
    return SensorResult(
        run_requests=requests,
        cursor=json.dumps({"after": after, "pending": pending}),
    )


def _event_parameters(flow: FlowInfo, pending: Mapping[str, Any]) -> dict[str, Any]:
    """Start op config from event payloads, typed like the flow's Parameters."""
    config: dict[str, Any] = {}
    for event, mapping in flow.trigger_events.items():
        payload = pending[event]["payload"]
        for param, payload_field in mapping.items():
            if payload_field not in payload or payload[payload_field] is None:
                continue  # the parameter keeps its default, as under Argo Events
            value = payload[payload_field]
            kind = flow.parameters.get(param, "str")
            if kind == "int":
                value = int(value)
            elif kind == "float":
                value = float(value)
            elif kind == "bool" and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(f"{param}: {value!r} is not a boolean")
                value = value.lower() in ("true", "1", "yes")
            elif kind == "bool":
                value = bool(value)
            elif kind in ("str", "file"):
                value = value if isinstance(value, str) else json.dumps(value)
            config[param] = value
    return config


def lost_runs(context: Any, flow: FlowInfo, job_name: str) -> Any:
    """Fail the started runs of the job whose process has not reported (HEARTBEAT_TAG,
    executor.py) for `flow.lost_run_after` seconds: their machine is gone. Dagster's
    run monitoring asks the run launcher, and dagster-celery's answers from the Celery
    task's state, which a lost worker never updates: without this such a run would
    stay STARTED for ever. The run launcher is asked to terminate it first (a revoke,
    for Celery), should anything of it remain."""
    from dagster import DagsterRunStatus, RunsFilter, SensorResult

    assert flow.lost_run_after is not None
    instance = context.instance
    now = time.time()
    lost = []
    started = RunsFilter(job_name=job_name, statuses=[DagsterRunStatus.STARTED])
    for record in instance.get_run_records(started):
        run = record.dagster_run
        # A re-execution copies its parent's tags: its own start counts too.
        seen = max(float(run.tags.get(HEARTBEAT_TAG, 0)), record.start_time or now)
        if now - seen < flow.lost_run_after:
            continue
        message = (
            f"The run's process has not reported for {now - seen:.0f} s (more than "
            f"--lost-run-after {flow.lost_run_after:g}): the machine that ran it was "
            "lost. Re-execute it from failure to finish it."
        )
        context.log.warning(f"Run {run.run_id}: {message}")
        try:
            instance.run_launcher.terminate(run.run_id)
        except Exception as exc:  # noqa: BLE001 (any launcher's errors)
            context.log.warning(f"Terminating run {run.run_id} failed: {exc}")
        instance.report_run_failed(run, message)
        lost.append(run.run_id)
    if not lost:
        return SensorResult(skip_reason=f"No run of {job_name} is lost.")
    failed = ", ".join(lost)
    return SensorResult(skip_reason=f"Failed {len(lost)} lost run(s): {failed}.")
