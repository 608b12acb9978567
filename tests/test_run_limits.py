"""`dagster create --max-num-splits` and `--max-log-size`, compared with the same
options of `python flow.py run`.

- --max-num-splits: a foreach task yielding more splits fails the run with Metaflow's
  message (`run`'s default is 100; a created job has no limit unless given one).
- --max-log-size: each task's stdout and stderr are stored up to that many megabytes,
  then Metaflow's truncation line (`run`'s TruncatedBuffer; 10 MB by default in both);
  the op's live compute log shows all of it.

Jobs run through their own executor in a new process, as `dagster dev` runs them: the
thread executor (the default), and for the refusal and the truncation `--executor
multiprocess` too.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    comparable,
    copy_flow,
    create,
    multiprocess_run,
    read_flow_name,
    read_run,
    run_cli,
)

# Metaflow's message (runtime.py, _queue_task_foreach) as `run` prints it.
TOO_WIDE = (
    "Foreach in step {step} yielded {num} child steps which is more than the current "
    "maximum of {max} children. You can raise the maximum with the --max-num-splits "
    "option."
)
EXECUTORS = ("threads", "multiprocess")
TRUNCATED = "[TRUNCATED - MAXIMUM LOG FILE SIZE REACHED]"
# Metaflow counts stored bytes, each line with its log prefix
# `[MFLOG|0|<timestamp>Z|runtime|<uuid>]` (82 bytes); big_log_flow's lines are 100.
STORED_LINE = 82 + 100


def kept_lines(megabytes: int) -> int:
    """How many lines Metaflow stores under a limit: while their total stays below."""
    return (megabytes * 1024 * 1024 - 1) // STORED_LINE


def native(
    flow: Path, *args: str, env: dict[str, str], ok: bool = True
) -> tuple[str, str]:
    """`python flow.py run ...`: the run pathspec and the command's output."""
    id_file = flow.parent / f".run-id-{uuid.uuid4().hex[:8]}"
    proc = run_cli(
        [flow.name, "run", "--run-id-file", str(id_file), *args],
        cwd=flow.parent,
        env=env,
        check=ok,
    )
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return (
        f"{read_flow_name(flow)}/{id_file.read_text().strip()}",
        proc.stdout + proc.stderr,
    )


def dagster_run(
    flow_dir: Path, defs: str, job: str, home: Path, env: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    result = multiprocess_run(flow_dir / defs, job, home, env=env)
    return f"{job}/dagster-{result['run_id']}", result


@pytest.mark.parametrize("executor", EXECUTORS)
def test_wide_foreach_refused_like_run_by_default(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """150 splits: `run` refuses them by default (100); so does a job created with
    --max-num-splits 100, with the same message, before any split runs."""
    flow = copy_flow("wide_foreach_flow.py", flow_dir)
    env = {"WIDE_FOREACH_WIDTH": "150"}
    pathspec, out = native(flow, env=env, ok=False)
    message = TOO_WIDE.format(step="start", num=150, max=100)
    assert message in out
    create(flow, "defs.py", "--max-num-splits", "100", "--executor", executor)
    ours, result = dagster_run(flow_dir, "defs.py", "WideForeachFlow", tmp_path, env)
    assert not result["success"]
    assert set(result["failures"]) == {"op_start"}
    assert message in result["failures"]["op_start"]
    # Natively and here the foreach task itself succeeded; no split ran.
    for run in (read_run(flow_dir, pathspec), read_run(flow_dir, ours)):
        assert set(run["steps"]) == {"start"}
        assert [t["successful"] for t in run["steps"]["start"]] == [True]


def test_wide_foreach_accepted_when_the_limit_is_raised(
    flow_dir: Path, tmp_path: Path
) -> None:
    """A job created with --max-num-splits 150 runs the 150 splits: every one reaches
    the join. (A native `run --max-num-splits 150` of this flow takes minutes here: the
    limit's boundary is compared with `run` below, on a narrow foreach.)"""
    flow = copy_flow("wide_foreach_flow.py", flow_dir)
    create(flow, "defs.py", "--max-num-splits", "150")
    env = {"WIDE_FOREACH_WIDTH": "150"}
    ours, result = dagster_run(flow_dir, "defs.py", "WideForeachFlow", tmp_path, env)
    assert result["success"], result["failures"]
    run = read_run(flow_dir, ours)
    assert len(run["steps"]["body"]) == 150
    [join] = run["steps"]["join"]
    assert join["artifacts"]["count"] == 150
    assert join["artifacts"]["total"] == sum(i * i for i in range(150))


def test_split_limit_boundary_matches_run(flow_dir: Path, tmp_path: Path) -> None:
    """As many splits as the limit run, as with `run --max-num-splits 5`; one more
    fails."""
    flow = copy_flow("wide_foreach_flow.py", flow_dir)
    create(flow, "defs.py", "--max-num-splits", "5")
    at_limit = {"WIDE_FOREACH_WIDTH": "5"}
    pathspec, _ = native(flow, "--max-num-splits", "5", env=at_limit)
    ours, result = dagster_run(
        flow_dir, "defs.py", "WideForeachFlow", tmp_path / "a", at_limit
    )
    assert result["success"], result["failures"]
    expected = comparable(read_run(flow_dir, pathspec))
    assert comparable(read_run(flow_dir, ours)) == expected
    over = {"WIDE_FOREACH_WIDTH": "6"}
    _, out = native(flow, "--max-num-splits", "5", env=over, ok=False)
    message = TOO_WIDE.format(step="start", num=6, max=5)
    assert message in out
    _, result = dagster_run(
        flow_dir, "defs.py", "WideForeachFlow", tmp_path / "b", over
    )
    assert not result["success"]
    assert message in result["failures"]["op_start"]


def test_nested_foreach_limit_applies_per_task_like_run(
    flow_dir: Path, tmp_path: Path
) -> None:
    """In a nested foreach each inner foreach task is checked (not their total): 2 x 3
    splits pass a limit of 3, 2 x 4 do not, natively and here."""
    flow = copy_flow("nested_wide_foreach_flow.py", flow_dir)
    create(flow, "defs.py", "--max-num-splits", "3")
    job = "NestedWideForeachFlow"
    fits = {"OUTER_WIDTH": "2", "INNER_WIDTH": "3"}
    pathspec, _ = native(flow, "--max-num-splits", "3", env=fits)
    ours, result = dagster_run(flow_dir, "defs.py", job, tmp_path / "a", fits)
    assert result["success"], result["failures"]
    expected = comparable(read_run(flow_dir, pathspec))
    assert comparable(read_run(flow_dir, ours)) == expected
    too_wide = {"OUTER_WIDTH": "2", "INNER_WIDTH": "4"}
    pathspec, out = native(flow, "--max-num-splits", "3", env=too_wide, ok=False)
    message = TOO_WIDE.format(step="mid", num=4, max=3)
    assert message in out
    ours, result = dagster_run(flow_dir, "defs.py", job, tmp_path / "b", too_wide)
    assert not result["success"]
    [(op, failure)] = result["failures"].items()
    assert op.startswith("op_mid_splits") and message in failure
    # Neither ran a split of the inner foreach.
    for run in (read_run(flow_dir, pathspec), read_run(flow_dir, ours)):
        assert "leaf" not in run["steps"]


def _logs(flow: Path, pathspec: str, stream: str) -> str:
    """`python flow.py logs <run>/loud --stdout|--stderr`."""
    run_id = pathspec.split("/")[1]
    proc = run_cli([flow.name, "logs", f"{run_id}/loud", f"--{stream}"], flow.parent)
    return proc.stdout


def _compare_logs(
    flow: Path,
    tmp_path: Path,
    env: dict[str, str],
    *options: str,
    executor: str = "threads",
) -> tuple[dict[str, Any], dict[str, Any]]:
    pathspec, _ = native(flow, *options, env=env)
    create(flow, "defs.py", *options, "--executor", executor)
    ours, result = dagster_run(flow.parent, "defs.py", "BigLogFlow", tmp_path, env)
    assert result["success"], result["failures"]
    expected = read_run(flow.parent, pathspec)["steps"]["loud"][0]
    seen = read_run(flow.parent, ours)["steps"]["loud"][0]
    for stream in ("stdout", "stderr"):
        # Stored the same way: the same lines, then Metaflow's truncation line.
        assert seen[stream] == expected[stream]
        assert seen[stream].rstrip("\n").endswith(TRUNCATED)
        assert _logs(flow, ours, stream) == _logs(flow, pathspec, stream)
    assert "last stdout line" not in seen["stdout"]
    # The op's live compute log shows everything the task printed.
    live = result["step_logs"]["op_loud"]
    assert "last stdout line" in live["stdout"]
    assert TRUNCATED not in live["stdout"]
    return expected, seen


@pytest.mark.parametrize("executor", EXECUTORS)
def test_max_log_size_truncates_stored_logs_like_run(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """--max-log-size 1: a step printing 1.5 MB (stdout) and 1.8 MB (stderr) is
    stored truncated exactly as `run --max-log-size 1` stores it."""
    flow = copy_flow("big_log_flow.py", flow_dir)
    expected, _ = _compare_logs(
        flow, tmp_path, {"BIG_LOG_MB": "1.5"}, "--max-log-size", "1", executor=executor
    )
    # Each stream has the whole limit (counted on its own).
    assert expected["stdout"].count("out ") == kept_lines(1)
    assert expected["stderr"].count("err ") == kept_lines(1)


def test_default_log_size_is_runs(flow_dir: Path, tmp_path: Path) -> None:
    """Without the option both store 10 MB of each stream, then truncate."""
    flow = copy_flow("big_log_flow.py", flow_dir)
    expected, _ = _compare_logs(flow, tmp_path, {"BIG_LOG_MB": "10.5"})
    assert expected["stdout"].count("out ") == kept_lines(10)
    assert expected["stderr"].count("err ") == kept_lines(10)
