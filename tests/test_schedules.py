"""@schedule becomes a ScheduleDefinition, checked by Dagster's own evaluation."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import copy_flow, create, load_module, read_run, run_pathspec
from dagster import DefaultScheduleStatus, build_schedule_context
from metaflow_dagster.runtime.dagster_adapter import schedule_execution_time_iterator

UTC = timezone.utc


def compile_schedule(
    flow_dir: Path, monkeypatch: Any, schedule: dict[str, Any]
) -> tuple[Any, Any]:
    """Compile schedule_flow.py with these @schedule arguments; (module, schedule)."""
    monkeypatch.setenv("MFD_TEST_SCHEDULE", json.dumps(schedule))
    flow = copy_flow("schedule_flow.py", flow_dir)
    create(flow, "defs.py")
    module = load_module(flow_dir / "defs.py")
    # Resolving the repository checks the schedule against the job, as Dagster loads it.
    [definition] = module.defs.get_repository_def().schedule_defs
    return module, definition


def next_ticks(definition: Any, after: datetime, count: int = 3) -> list[datetime]:
    """The schedule's next tick times, as Dagster's scheduler daemon computes them."""
    ticks = schedule_execution_time_iterator(
        after.timestamp(), definition.cron_schedule, definition.execution_timezone
    )
    found = []
    for tick in ticks:
        if tick.timestamp() > after.timestamp():
            found.append(tick)
        if len(found) == count:
            return found
    raise AssertionError("the iterator ended")


# A Wednesday, noon UTC.
WEDNESDAY = datetime(2024, 1, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "cron", "ticks"),
    [
        # @schedule alone is daily (Metaflow's default).
        ({}, "0 0 * * *", ["2024-01-04T00:00", "2024-01-05T00:00"]),
        ({"hourly": True}, "0 * * * *", ["2024-01-03T13:00", "2024-01-03T14:00"]),
        ({"weekly": True}, "0 0 * * 0", ["2024-01-07T00:00", "2024-01-14T00:00"]),
        # A classic 5-field cron is kept as written.
        (
            {"cron": "*/20 9-17 * * 1-5"},
            "*/20 9-17 * * 1-5",
            ["2024-01-03T12:20", "2024-01-03T12:40"],
        ),
        # EventBridge's 6 fields: `?` -> `*`, names and 1-7 (SUN-SAT) -> 0-6.
        (
            {"cron": "30 8 ? * MON-FRI *"},
            "30 8 * * 1-5",
            ["2024-01-04T08:30", "2024-01-05T08:30", "2024-01-08T08:30"],
        ),
        (
            {"cron": "0 6 ? * 2,6 *"},
            "0 6 * * 1,5",
            ["2024-01-05T06:00", "2024-01-08T06:00", "2024-01-12T06:00"],
        ),
        (
            {"cron": "0 12 1 JAN,JUL ? *"},
            "0 12 1 1,7 *",
            ["2024-07-01T12:00", "2025-01-01T12:00"],
        ),
    ],
)
def test_schedule_cron(
    flow_dir: Path,
    monkeypatch: Any,
    schedule: dict[str, Any],
    cron: str,
    ticks: list[str],
) -> None:
    module, definition = compile_schedule(flow_dir, monkeypatch, schedule)
    assert definition.cron_schedule == cron
    assert definition.job_name == "ScheduleFlow"
    assert definition.name == "ScheduleFlow_schedule"
    assert definition.default_status == DefaultScheduleStatus.RUNNING
    assert definition.execution_timezone is None  # UTC, as EventBridge
    got = next_ticks(definition, WEDNESDAY, len(ticks))
    assert [t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") for t in got] == ticks


def test_schedule_timezone_across_daylight_saving(
    flow_dir: Path, monkeypatch: Any
) -> None:
    _, definition = compile_schedule(
        flow_dir, monkeypatch, {"daily": True, "timezone": "Europe/Paris"}
    )
    assert definition.execution_timezone == "Europe/Paris"
    # Paris moves to summer time on 2024-03-31: local midnight stays midnight.
    got = next_ticks(definition, datetime(2024, 3, 30, 12, 0, tzinfo=UTC))
    paris = ZoneInfo("Europe/Paris")
    assert [t.astimezone(paris).strftime("%m-%d %H:%M") for t in got] == [
        "03-31 00:00",
        "04-01 00:00",
        "04-02 00:00",
    ]
    assert [t.astimezone(UTC).strftime("%m-%d %H:%M") for t in got] == [
        "03-30 23:00",
        "03-31 22:00",
        "04-01 22:00",
    ]


def test_scheduled_tick_starts_a_run_with_parameter_defaults(
    flow_dir: Path, monkeypatch: Any
) -> None:
    module, definition = compile_schedule(
        flow_dir, monkeypatch, {"cron": "0 9 ? * MON *", "timezone": "America/New_York"}
    )
    tick = datetime(2024, 1, 8, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    assert next_ticks(definition, datetime(2024, 1, 3, tzinfo=UTC), 1) == [tick]
    data = definition.evaluate_tick(
        build_schedule_context(scheduled_execution_time=tick)
    )
    [request] = data.run_requests
    result = module.ScheduleFlow.execute_in_process(
        run_config=request.run_config, tags=request.tags
    )
    assert result.success
    run = read_run(flow_dir, run_pathspec(result))
    assert run["steps"]["start"][0]["artifacts"]["doubled"] == 6


def test_schedule_off_when_nothing_is_selected(
    flow_dir: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("MFD_TEST_SCHEDULE", json.dumps({"daily": False}))
    flow = copy_flow("schedule_flow.py", flow_dir)
    create(flow, "defs.py")
    module = load_module(flow_dir / "defs.py")
    assert list(module.defs.schedules or []) == []


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ({"cron": "0 0 L * ? *"}, "L, W and # are Quartz/EventBridge extensions"),
        ({"cron": "0 0 ? * 2#1 *"}, "L, W and # are Quartz/EventBridge extensions"),
        ({"cron": "0 0 15W * ? *"}, "L, W and # are Quartz/EventBridge extensions"),
        ({"cron": "0 0 1 * 2 *"}, "both day-of-month and day-of-week are restricted"),
        ({"cron": "61 * * * *"}, "minute value 61 is outside 0-59"),
        ({"cron": "0 0 * * ? 2030"}, "the year field '2030' cannot be expressed"),
        ({"cron": "0 0 30 2 ? *"}, "day-of-month never occurs"),
        ({"cron": "every day"}, "has 2 fields"),
        ({"daily": True, "timezone": "Mars/Olympus_Mons"}, "not an IANA time zone"),
    ],
)
def test_invalid_schedules_are_refused_at_compile_time(
    flow_dir: Path, monkeypatch: Any, schedule: dict[str, Any], why: str
) -> None:
    monkeypatch.setenv("MFD_TEST_SCHEDULE", json.dumps(schedule))
    flow = copy_flow("schedule_flow.py", flow_dir)
    proc = create(flow, "defs.py", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "flow ScheduleFlow, decorator @schedule:" in out
    assert why in out
    assert not (flow_dir / "defs.py").exists()


def test_required_parameter_without_default_on_a_scheduled_flow(flow_dir: Path) -> None:
    flow = copy_flow("schedule_required_flow.py", flow_dir)
    proc = create(flow, "defs.py", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "flow ScheduleRequiredFlow, decorator @schedule:" in out
    assert "parameter 'size' is required and has no default" in out
    assert not (flow_dir / "defs.py").exists()
