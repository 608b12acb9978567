"""@exit_hook: the job's executor runs the hooks once the run ended, as Metaflow's own
runtime does after `python flow.py run` (its `_run_exit_hooks`): on_success hooks when
the end step finished, else on_error hooks, each given the Run; a failing hook is
reported and never fails the run. Native `python flow.py run` of the same flow is the
oracle: the same hooks leave the same markers, and print what they print, which the
Dagster run's log shows. Runs go through the job's own executor in a new process, as
`dagster dev` runs them: the thread executor (the default) and `--executor
multiprocess`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_flow, create, load_module, multiprocess_run, run_cli

FLOW = "exit_hook_flow.py"
EXECUTORS = ("threads", "multiprocess")
FAIL = {"EXIT_HOOK_FAIL": "1"}


def markers(flow_dir: Path, run_id: str) -> dict[str, Any]:
    """What each hook given the run saw, with the run's pathspec written `RUN`."""
    folder = flow_dir / "hook_markers" / run_id
    seen = {}
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        data = json.loads(path.read_text())
        assert data["run"] == f"ExitHookFlow/{run_id}"
        seen[path.stem] = {**data, "run": "RUN"}
    return seen


def plain_calls(flow_dir: Path) -> int:
    log = flow_dir / "hook_markers" / "plain_hook.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def native(flow: Path, fail: bool) -> tuple[str, str]:
    """`python flow.py run` (failing with EXIT_HOOK_FAIL=1): its run id and output."""
    id_file = flow.parent / f".run-id-{uuid.uuid4().hex[:8]}"
    proc = run_cli(
        [flow.name, "run", "--run-id-file", str(id_file)],
        cwd=flow.parent,
        env=FAIL if fail else None,
        check=not fail,
    )
    assert (proc.returncode != 0) == fail, proc.stdout + proc.stderr
    return id_file.read_text().strip(), proc.stdout + proc.stderr


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_exit_hooks_run_as_in_a_native_run(
    executor: str, outcome: str, flow_dir: Path, tmp_path: Path
) -> None:
    fail = outcome == "failure"
    flow = copy_flow(FLOW, flow_dir)
    create(flow, "defs.py", "--executor", executor)

    calls = plain_calls(flow_dir)
    native_id, native_out = native(flow, fail)
    expected = markers(flow_dir, native_id)
    native_plain = plain_calls(flow_dir) - calls
    hook = "record_error" if fail else "record_success"
    assert set(expected) == {hook}
    assert expected[hook]["successful"] is not fail
    assert f"exit hook {hook} saw ExitHookFlow/{native_id} " in native_out

    calls = plain_calls(flow_dir)
    result = multiprocess_run(
        flow_dir / "defs.py",
        "ExitHookFlow",
        tmp_path / "home",
        env=FAIL if fail else {},
    )
    run_id = f"dagster-{result['run_id']}"
    # The run's outcome is Dagster's as before: a failing hook changes nothing.
    assert result["success"] is not fail, result["failures"]
    if fail:
        assert set(result["failures"]) == {"op_middle"}
    # The same hooks ran and saw what they saw natively (the Run, its outcome).
    assert markers(flow_dir, run_id) == expected
    assert plain_calls(flow_dir) - calls == native_plain == (0 if fail else 1)
    # Each hook's outcome and output are in the Dagster run's log.
    logs = "\n".join(m for m in result["logs"] if m)
    assert "Could not read the end step" not in logs  # decided from the datastore
    assert f"exit hook {hook} saw ExitHookFlow/{run_id} successful={not fail}" in logs
    assert (
        f"Exit hook '{hook}' ({'on_error' if fail else 'on_success'}) finished" in logs
    )
    if fail:
        assert "record_success" not in logs and "broken_hook" not in logs
        return
    # The broken hook failed natively too, was reported, and the hooks after it ran.
    assert "[exit_hook] Hook 'broken_hook' failed" in native_out
    assert "Exit hook 'broken_hook' (on_success) failed with exit code 1" in logs
    assert "RuntimeError: this hook fails on purpose" in logs
    assert "Exit hook 'plain_hook' (on_success) finished" in logs
    assert "exit hook plain_hook called" in logs


def test_execute_in_process_runs_no_exit_hooks(flow_dir: Path) -> None:
    """Documented: execute_in_process swaps in Dagster's in-process executor, so the
    job's executor, which runs the hooks, does not run."""
    flow = copy_flow(FLOW, flow_dir)
    create(flow, "defs.py")
    result = load_module(flow_dir / "defs.py").ExitHookFlow.execute_in_process()
    assert result.success
    assert not (flow_dir / "hook_markers").exists()


def test_argo_options_of_exit_hook_are_refused(flow_dir: Path) -> None:
    """`options=` configures the container Argo Workflows runs a hook in: refused,
    naming the flow, the decorator and the option; nothing is written."""
    flow = copy_flow(FLOW, flow_dir)
    source = flow.read_text().replace(
        '@exit_hook(on_error=["record_error"])',
        '@exit_hook(on_error=["record_error"], options={"image": "python:3.11"})',
    )
    flow.write_text(source)
    proc = create(flow, "defs.py", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "ExitHookFlow" in out and "@exit_hook" in out, out
    assert "options image are specific to Argo Workflows" in out, out
    assert not (flow_dir / "defs.py").exists()
