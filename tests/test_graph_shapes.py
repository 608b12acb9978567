"""Every graph shape runs through Dagster exactly as `python flow.py run` runs it.

The jobs run with their own executor (ops as threads of the run's process, as under
`dagster dev`), not `execute_in_process`, which most other tests use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import (
    comparable,
    compile_flow,
    native_run,
    read_run,
    run_pathspec,
    task_id,
)
from dagster import DagsterInstance, EventLogEntry, execute_job
from metaflow_dagster.runtime.dagster_adapter import ReconstructableJob

SHAPES = [
    "linear_flow.py",
    "branch_flow.py",
    "foreach_flow.py",
    "foreach_in_branch_flow.py",
    "nested_foreach_flow.py",
    "triple_foreach_flow.py",
    "switch_flow.py",
    "nested_switch_flow.py",
    "switch_in_foreach_flow.py",
    "loop_flow.py",
    "loop_in_foreach_flow.py",
    "custom_start_end_flow.py",
    "single_step_flow.py",
    "parallel_flow.py",
]


@dataclass
class JobRun:
    """A Dagster run of a generated job: the Metaflow run it made, and its event log."""

    run: dict[str, Any]
    records: list[EventLogEntry]

    def step_keys(self, event_type: str) -> set[str]:
        return {
            r.step_key
            for r in self.records
            if r.dagster_event is not None
            and r.dagster_event.event_type_value == event_type
            and r.step_key is not None
        }

    def ops(self, event_type: str) -> set[str]:
        """The ops (step keys without their mapping keys) with such an event."""
        return {key.split("[")[0] for key in self.step_keys(event_type)}

    def messages(self, step_key: str) -> list[str]:
        """The log messages (context.log) of one Dagster step."""
        return [
            r.user_message
            for r in self.records
            if r.step_key == step_key and r.dagster_event is None
        ]

    def task_metadata(self, step_key: str) -> dict[str, Any]:
        """The metadata of the output that describes the step's Metaflow task."""
        for r in self.records:
            event = r.dagster_event
            if r.step_key != step_key or event is None:
                continue
            if event.event_type_value == "STEP_OUTPUT":
                metadata = event.event_specific_data.metadata
                if "metaflow pathspec" in metadata:
                    return {k: v.value for k, v in metadata.items()}
        raise AssertionError(f"no task metadata for {step_key}")

    def span(self, step_key: str) -> tuple[float, float]:
        """When a Dagster step started and succeeded."""
        times = {}
        for r in self.records:
            event = r.dagster_event
            if r.step_key == step_key and event is not None:
                times[event.event_type_value] = r.timestamp
        return times["STEP_START"], times["STEP_SUCCESS"]


def execute(
    folder: Path,
    module: ModuleType,
    config: dict | None = None,
    max_concurrent: int | None = None,
) -> JobRun:
    """Run the generated job with its own executor; it must succeed."""
    start = "op_" + module.FLOW.start_step
    job = ReconstructableJob.for_file(str(folder / "defs.py"), module.FLOW.name)
    run_config: dict[str, Any] = {}
    if config:
        run_config["ops"] = {start: {"config": config}}
    if max_concurrent is not None:
        run_config["execution"] = {"config": {"max_concurrent": max_concurrent}}
    with (
        DagsterInstance.ephemeral() as instance,
        execute_job(job, instance=instance, run_config=run_config) as result,
    ):
        assert result.success
        pathspec = run_pathspec(result, start)
        records = list(instance.all_logs(result.run_id))
    return JobRun(read_run(folder, pathspec), records)


def run_native(flow: Path, config: dict | None = None) -> dict[str, Any]:
    args = [f"--{k}={v}" for k, v in (config or {}).items()]
    return read_run(flow.parent, native_run(flow, "--max-num-splits", "1000", *args))


def run_both(name: str, folder: Path, config: dict | None = None) -> tuple[dict, dict]:
    flow, module = compile_flow(name, folder)
    ours = execute(folder, module, config).run
    return ours, run_native(flow, config)


def run_shape(
    name: str,
    folder: Path,
    config: dict | None = None,
    max_concurrent: int | None = None,
) -> tuple[JobRun, ModuleType]:
    """A fixture flow through Dagster, checked against a native run of the same flow."""
    flow, module = compile_flow(name, folder)
    ours = execute(folder, module, config, max_concurrent)
    native = run_native(flow, config)
    assert ours.run["successful"] and ours.run["finished"]
    assert comparable(ours.run) == comparable(native)
    return ours, module


@pytest.mark.parametrize("name", SHAPES)
def test_same_tasks_and_artifacts_as_native(name: str, flow_dir: Path) -> None:
    ours, native = run_both(name, flow_dir)
    assert ours["successful"] and ours["finished"]
    assert comparable(ours) == comparable(native)


@pytest.mark.parametrize("kind", ["high-value", "low value", "skip"])
def test_switch_values_that_are_not_identifiers(kind: str, flow_dir: Path) -> None:
    ours, native = run_both("switch_flow.py", flow_dir, {"kind": kind})
    assert comparable(ours) == comparable(native)
    expected = {"high-value": 101, "low value": 1, "skip": 0}[kind]
    assert ours["steps"]["merge"][0]["artifacts"]["result"] == expected
    taken = {"high-value": {"big", "big_more"}, "low value": {"small"}, "skip": set()}
    assert {"big", "big_more", "small"} & set(ours["steps"]) == taken[kind]


# Parameters of ParamNestedSwitchFlow -> the steps that run. Together the three runs
# take every branch of every switch.
NESTED_SWITCH_RUNS = {
    "left-fan": (
        {"route": "left", "pick": "fan"},
        {"start", "left", "branch_a", "fan", "square", "fan_join", "a_done"}
        | {"branch_b", "b_via", "b_done", "left_join", "finish", "end"},
    ),
    "left-plain": (
        {"route": "left", "pick": "plain"},
        {"start", "left", "branch_a", "plain", "a_done"}
        | {"branch_b", "b_short", "b_done", "left_join", "finish", "end"},
    ),
    "right": ({"route": "right"}, {"start", "right", "finish", "end"}),
}


@pytest.mark.parametrize("case", sorted(NESTED_SWITCH_RUNS))
def test_nested_switches_take_every_branch(case: str, flow_dir: Path) -> None:
    """Nested switches, a split in a switch branch, a switch in each split branch and a
    foreach in a switch branch: each parameter set runs as natively, and Dagster skips
    exactly the ops of the branches not taken."""
    config, ran = NESTED_SWITCH_RUNS[case]
    ours, module = run_shape("param_nested_switch_flow.py", flow_dir, config)
    steps = set(module.FLOW.steps)
    assert set().union(*(r for _, r in NESTED_SWITCH_RUNS.values())) == steps
    assert set(ours.run["steps"]) == ran
    assert ours.ops("STEP_SUCCESS") == {f"op_{s}" for s in ran}
    # The foreach body is mapped: with its foreach skipped it has no step at all.
    skipped = {f"op_{s}" for s in steps - ran - {"square"}}
    assert ours.step_keys("STEP_SKIPPED") == skipped
    squares = {k for k in ours.step_keys("STEP_SUCCESS") if k.startswith("op_square")}
    # Keyed by the items, [3, 1, 2].
    expected_squares = {f"op_square[{v}]" for v in (3, 1, 2)}
    assert squares == (expected_squares if "fan" in ran else set())
    [end] = ours.run["steps"]["end"]
    expected = {
        "left-fan": ([9, 1, 4], "a:3", ["via-step", "visited"]),
        "left-plain": ([], "a:0", ["short cut", "short"]),
        "right": ([], None, [None, None]),
    }[case]
    summary = end["artifacts"]["summary"]
    assert (summary["squares"], summary["a"], summary["b"]) == expected


@pytest.mark.parametrize("which", ["a", "b-side"])
def test_switch_in_split_branch_straight_to_join(which: str, flow_dir: Path) -> None:
    """The switch's cases lead straight to the split's join, which runs with the
    inputs of the case taken and of the other branch."""
    ours, _ = run_shape("switch_to_split_join_flow.py", flow_dir, {"which": which})
    parts = {"a": ["a+more", "right"], "b-side": ["b", "right"]}[which]
    assert ours.run["steps"]["join"][0]["artifacts"]["parts"] == parts
    assert ours.run["steps"]["end"][0]["artifacts"]["parts"] == parts
    untaken = {"a": {"op_b"}, "b-side": {"op_a", "op_a_more"}}[which]
    assert ours.step_keys("STEP_SKIPPED") == untaken
    assert "op_join" in ours.step_keys("STEP_SUCCESS")


def test_retried_switch_takes_the_branch_of_the_attempt_that_succeeded(
    flow_dir: Path,
) -> None:
    """Attempt 0 of the switch chooses "a" and fails; attempt 1 chooses "b"."""
    ours, _ = run_shape("retry_switch_flow.py", flow_dir)
    [decide] = ours.run["steps"]["decide"]
    assert decide["attempt"] == 1
    assert decide["artifacts"]["choice"] == "b"
    assert "a" not in ours.run["steps"]
    assert ours.run["steps"]["done"][0]["artifacts"]["summary"] == "b after attempt 1"
    assert "op_decide" in ours.step_keys("STEP_UP_FOR_RETRY")
    assert ours.step_keys("STEP_SKIPPED") == {"op_a"}
    assert {"op_b", "op_done", "op_end"} <= ours.step_keys("STEP_SUCCESS")
    assert ours.task_metadata("op_decide")["chosen step"] == "b"


def test_loop_iterations_are_visible_in_dagster(flow_dir: Path) -> None:
    """Each iteration of a loop, at the top level and in each split of a foreach, is a
    task of its own, logged by its op and listed in the op's output metadata."""
    ours, _ = run_shape("loops_flow.py", flow_dir)
    run = ours.run
    start = str(ours.task_metadata("op_start")["metaflow pathspec"])
    flow_name, run_id = start.split("/")[:2]

    def check(step_key: str, step: str, base: str, count: int, exit_to: str) -> None:
        paths = [f"{run_id}/{step}/{base}-i{n}" for n in range(count)]
        metadata = ours.task_metadata(step_key)
        assert metadata["iterations"] == [f"{flow_name}/{p}" for p in paths]
        assert metadata["metaflow pathspec"] == f"{flow_name}/{paths[-1]}"
        assert metadata["chosen step"] == exit_to
        chosen = [step] * (count - 1) + [exit_to]
        lines = [m for m in ours.messages(step_key) if m.startswith("Iteration ")]
        assert lines == [
            f"Iteration {n} of {step!r} ({p}) chose {c!r}."
            for n, (p, c) in enumerate(zip(paths, chosen, strict=True))
        ]

    check("op_grow", "grow", task_id("grow"), 3, "fork")
    grow = run["steps"]["grow"]
    assert [t["id"] for t in grow] == [f"{task_id('grow')}-i{n}" for n in range(3)]
    assert [t["artifacts"]["history"] for t in grow] == [[1], [1, 2], [1, 2, 3]]
    limits = [2, 1, 3]
    # Ops keyed by the items, tasks by split index.
    for key, limit in enumerate(limits):
        check(f"op_spin[{limit}]", "spin", task_id("spin", str(key)), limit, "done")
    spins = {t["id"]: t["artifacts"]["count"] for t in run["steps"]["spin"]}
    assert spins == {
        f"{task_id('spin', str(k))}-i{n}": n + 1
        for k, limit in enumerate(limits)
        for n in range(limit)
    }
    assert run["steps"]["join"][0]["artifacts"]["counts"] == limits


def test_parallel_tasks_run_concurrently(flow_dir: Path) -> None:
    """The gang's tasks can only finish if all of them run at once (each waits for the
    others to start), and their working intervals overlap."""
    _, module = compile_flow("parallel_overlap_flow.py", flow_dir)
    ours = execute(flow_dir, module)
    assert ours.run["successful"] and ours.run["finished"]
    train = [t["artifacts"] for t in ours.run["steps"]["train"]]
    assert sorted(t["node"] for t in train) == [0, 1, 2]
    assert all(t["nodes"] == 3 and t["seen"] == 3 for t in train)
    assert max(t["started_at"] for t in train) < min(t["ended_at"] for t in train)
    spans = ours.run["steps"]["join"][0]["artifacts"]["spans"]
    assert sorted(spans) == ["0", "1", "2"]


def test_triple_foreach_with_split_in_innermost_body(flow_dir: Path) -> None:
    """Three foreach levels whose innermost body has several steps and a split/join:
    each innermost task is a Dagster step of its own, keyed by its items' values at
    every level (x_y_z), while its task id holds the split indexes."""
    ours, _ = run_shape("triple_foreach_split_flow.py", flow_dir)
    finals = ["<2.1.C|c.1.2>", "<2.0.B|b.0.2>", "<2.0.A|a.0.2>", "<1.0.C|c.0.1>"]
    assert ours.run["steps"]["end"][0]["artifacts"]["finals"] == finals
    labels = {t["artifacts"]["label"] for t in ours.run["steps"]["level3"]}
    values = {label.replace(".", "_") for label in labels}
    assert values == {"2_1_c", "2_0_b", "2_0_a", "1_0_c"}
    # Split indexes (xs = [2, 1], ys = reversed(range(x)), zs = ["b", "a"] or ["c"]).
    indexes = {"0_0_0", "0_1_0", "0_1_1", "1_0_0"}
    for step in ("level3", "upper", "lower", "inner_join", "polish"):
        keys = {
            k for k in ours.step_keys("STEP_SUCCESS") if k.startswith(f"op_{step}[")
        }
        assert keys == {f"op_{step}[{v}]" for v in values}
        tasks = {t["id"] for t in ours.run["steps"][step]}
        assert tasks == {task_id(step, i) for i in indexes}


def test_nested_foreach_tasks_are_dagster_steps_that_overlap(flow_dir: Path) -> None:
    """Every inner task of a two-level foreach is its own Dagster step, keyed by its
    outer item (groups [3, 2]) and inner split index (members like `m3-2` hold a dash,
    no key), and siblings run at the same time."""
    ours, _ = run_shape("nested_foreach_overlap_flow.py", flow_dir, max_concurrent=8)
    # Mapping key -> (split key in the task id, member).
    keys = {
        "3_0": ("0_0", "m3-2"),
        "3_1": ("0_1", "m3-1"),
        "3_2": ("0_2", "m3-0"),
        "2_0": ("1_0", "m2-1"),
        "2_1": ("1_1", "m2-0"),
    }
    inner = {k for k in ours.step_keys("STEP_SUCCESS") if k.startswith("op_inner[")}
    assert inner == {f"op_inner[{k}]" for k in keys}
    tasks = {t["id"]: t["artifacts"]["member"] for t in ours.run["steps"]["inner"]}
    assert tasks == {task_id("inner", split): member for split, member in keys.values()}
    for group in ("3", "2"):
        spans = [ours.span(f"op_inner[{k}]") for k in keys if k.startswith(group)]
        # All siblings of a group were running at one moment.
        assert max(start for start, _ in spans) < min(end for _, end in spans)


def test_foreach_mapping_keys_are_item_values_and_task_ids_split_indexes(
    flow_dir: Path,
) -> None:
    """Dagster names a split by its items' values where every value of the level makes
    a key and they are distinct (`op_body[alpha]`, `op_inner[alpha_0]`: floats hold a
    dot), else by its split index (`op_twin[0]`: the values repeat), before and after
    a nested join alike; task ids keep the split indexes, and the run equals native."""
    ours, _ = run_shape("foreach_keys_flow.py", flow_dir)
    succeeded = ours.step_keys("STEP_SUCCESS")

    def keyed(op: str) -> set[str]:
        return {k[len(op) + 1 : -1] for k in succeeded if k.startswith(f"{op}[")}

    names = ("alpha", "beta", "gamma")
    for op in ("op_body", "op_inner_join", "op_after"):
        assert keyed(op) == set(names), op
    assert keyed("op_inner") == {f"{n}_{i}" for n in names for i in (0, 1)}
    assert keyed("op_twin") == {"0", "1"}
    ids = {
        step: {t["id"] for t in ours.run["steps"][step]} for step in ours.run["steps"]
    }
    assert ids["body"] == {task_id("body", str(i)) for i in range(3)}
    assert ids["inner"] == {
        task_id("inner", f"{o}_{i}") for o in range(3) for i in (0, 1)
    }
    assert ids["after"] == {task_id("after", str(i)) for i in range(3)}

    # The op named after an item ran that item's task.
    def ran(step_key: str) -> dict[str, Any]:
        [running] = [m for m in ours.messages(step_key) if m.startswith("Running: ")]
        task = running.split(" --task-id ")[1].split()[0]
        step = step_key[3:].split("[")[0]
        return next(t for t in ours.run["steps"][step] if t["id"] == task)

    for name in names:
        assert ran(f"op_after[{name}]")["artifacts"]["summary"].startswith(f"{name}=")
        assert ran(f"op_inner[{name}_1]")["artifacts"]["part"] == f"{name}:1.5"
    assert ids["twin"] == {task_id("twin", f"{i}-i{n}") for i in "01" for n in (0, 1)}
