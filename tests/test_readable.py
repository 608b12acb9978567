"""What Dagster shows a user of a generated job: failures that start with the user's
exception, and op descriptions from the steps' docstrings (issue #17, part 2 and 3)."""

from __future__ import annotations

from pathlib import Path

from conftest import compile_flow
from metaflow_dagster.runtime.errors import user_exception


def _failure_message(module, job: str) -> str:
    result = getattr(module, job).execute_in_process(raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return failure.event_specific_data.error.message


def test_failure_starts_with_the_users_exception(flow_dir: Path) -> None:
    _, module = compile_flow("failing_flow.py", flow_dir)
    message = _failure_message(module, "FailingFlow")
    lines = message.splitlines()
    # Dagster prefixes the op's failure with its own words; the user's text follows.
    start = next(i for i, line in enumerate(lines) if "ValueError" in line)
    assert lines[start].endswith("ValueError: boom on purpose"), message
    assert lines[start + 1] == '  failing_flow.py:15 in boom: fail("boom on purpose")'
    assert lines[start + 2] == "  failing_flow.py:5 in fail: raise ValueError(message)"
    assert lines[start + 3] == ""
    assert lines[start + 4].startswith("Metaflow task FailingFlow/")
    assert "/boom/" in lines[start + 4] and "(attempt 0) failed" in lines[start + 4]
    # The stderr tail is still there, below.
    assert "its stderr ended with:" in message
    assert start <= 1, message


def test_timeout_failure_starts_with_metaflows_report(flow_dir: Path) -> None:
    _, module = compile_flow("sleepy_flow.py", flow_dir)
    message = _failure_message(module, "SleepyFlow")
    lines = message.splitlines()
    # Metaflow's own report of its @timeout: headline, message, the stack at the time.
    start = next(i for i, line in enumerate(lines) if "@timeout" in line)
    assert start <= 1, message
    assert lines[start].endswith(
        "@timeout: Step nap timed out after 0 hours, 0 minutes, 1 seconds"
    ), message
    assert lines[start + 1] == "  sleepy_flow.py:16 in nap: time.sleep(60)", message


def test_step_docstrings_describe_their_ops(flow_dir: Path) -> None:
    _, module = compile_flow("ui_demo_flow.py", flow_dir)
    job = module.UiDemoFlow
    described = job.graph.node_named("op_measure").definition.description
    assert described.startswith("Measure one word.\n\nMetaflow step measure of")
    # A step without a docstring keeps the op's own words.
    _, plain = compile_flow("failing_flow.py", flow_dir)
    boom = plain.FailingFlow.graph.node_named("op_boom").definition.description
    assert boom == "Metaflow step boom of FailingFlow."


CHAINED = """\
Traceback (most recent call last):
  File "/flows/lib/parse.py", line 3, in parse
    return int(text)
           ^^^^^^^^^
ValueError: invalid literal for int() with base 10: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/metaflow/task.py", line 113, in _exec
    step_function()
  File "/flows/my_flow.py", line 20, in start
    self.n = parse(self.text)
             ^^^^^^^^^^^^^^^^
  File "/flows/lib/parse.py", line 5, in parse
    raise RuntimeError(
  File "/venv/lib/python3.11/site-packages/somelib/core.py", line 9, in fail
    raise RuntimeError(message)
RuntimeError: could not parse
  the second line of the message

Task failed.
"""


def test_the_last_traceback_and_only_the_users_frames() -> None:
    assert user_exception(CHAINED, "/flows") == "\n".join(
        [
            "RuntimeError: could not parse",
            "  the second line of the message",
            "  my_flow.py:20 in start: self.n = parse(self.text)",
            "  lib/parse.py:5 in parse: raise RuntimeError(",
        ]
    )


def test_no_frame_of_the_flow_shows_the_deepest_outside_libraries() -> None:
    assert user_exception(CHAINED, "/elsewhere").splitlines()[2:] == [
        "  /flows/lib/parse.py:5 in parse: raise RuntimeError(",
    ]


REPORTED = """\
<flow SleepyFlow step nap> failed:
    @timeout:
    Step nap timed out after 0 hours, 0 minutes, 1 seconds
    Stack when the timeout was raised:
    >    File "/flows/sleepy_flow.py", line 25, in <module>
    >      SleepyFlow()
    >    File "/venv/lib/python3.11/site-packages/metaflow/task.py", line 113, in _exec
    >      step_function()
    >    File "/flows/sleepy_flow.py", line 16, in nap
    >      time.sleep(60)

Task failed.
"""


def test_metaflows_own_report() -> None:
    assert user_exception(REPORTED, "/flows") == "\n".join(
        [
            "@timeout: Step nap timed out after 0 hours, 0 minutes, 1 seconds",
            "  sleepy_flow.py:16 in nap: time.sleep(60)",
        ]
    )
    # A traceback printed before the report is not what ended the task.
    assert user_exception(CHAINED + REPORTED, "/flows").startswith("@timeout")


def test_no_traceback_no_summary() -> None:
    assert user_exception("Killed\n", "/flows") is None
    assert user_exception("", "/flows") is None
