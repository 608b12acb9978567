"""Warm task launch (fast launch, the default): a task forks from a process that has
Metaflow imported instead of starting a new interpreter. Under the thread executor (the
default) that process is a launcher started with the task's environment; under the
multiprocess executor it is the op process itself. Either way the task must be
indistinguishable from a cold one: environment, working directory, argv and sys.path,
signals, stdio, logs and exit status. Each test runs the same flow warm and cold
(`--no-fast-launch`) in a new process, as `dagster dev`'s run worker does, and
compares."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    FLOWS,
    copy_flow,
    create,
    is_launcher,
    multiprocess_run,
    read_flow_name,
    read_run,
    run_cli,
)
from test_warm_exit import read_step

FAULTS = FLOWS / "faults"


def commands(result: dict[str, Any]) -> list[str]:
    return [m for m in result["logs"] if m.startswith("Running: ")]


def seen(flow_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    run_id = f"dagster-{result['run_id']}"
    run = read_run(flow_dir, f"FidelityFlow/{run_id}")
    [start] = run["steps"]["start"]
    out = dict(start["artifacts"])
    out["argv"] = [a.replace(run_id, "<run>") for a in out["argv"]]
    out["stdout"] = start["stdout"]
    out["stderr"] = start["stderr"]
    return out


EXECUTORS = ("threads", "multiprocess")


def forked_by(executor: str, cmdline: str) -> bool:
    """Whether a warm task's /proc cmdline is that of the process it forked from."""
    if executor == "threads":
        return is_launcher(cmdline.encode())
    return "forkserver" in cmdline


@pytest.mark.parametrize("executor", EXECUTORS)
def test_warm_task_matches_a_cold_one(
    executor: str, flow_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIDELITY_MARK", "x'y\"z")
    flow = copy_flow("fidelity_flow.py", flow_dir)
    create(flow, "warm_defs.py", "--executor", executor)
    create(flow, "cold_defs.py", "--no-fast-launch")
    warm_defs, cold_defs = flow_dir / "warm_defs.py", flow_dir / "cold_defs.py"
    result = multiprocess_run(warm_defs, "FidelityFlow", tmp_path / "w")
    assert result["success"]
    warm = seen(flow_dir, result)
    warm_commands = commands(result)
    result = multiprocess_run(cold_defs, "FidelityFlow", tmp_path / "c")
    assert result["success"]
    cold = seen(flow_dir, result)
    # The warm task really forked (its command line is the launcher's, or the op's: a
    # fork server's child); the cold one is the `step` command itself.
    assert forked_by(executor, warm.pop("cmdline"))
    assert " step start " in cold.pop("cmdline")
    assert all("(cold:" not in c for c in warm_commands), warm_commands
    # Threads: a cold task has only its own; a forked one only the forking thread.
    assert warm.pop("threads") == cold.pop("threads")
    assert warm == cold
    assert warm["module"] == "__main__"
    assert warm["cwd"] == str(flow_dir)
    assert warm["path0"] == str(flow_dir)
    assert warm["session_leader"] is True
    assert warm["stdin"] == ""
    assert warm["env"]["FIDELITY_MARK"] == "x'y\"z"
    assert "fidelity to stdout" in warm["stdout"]
    assert "fidelity to stderr" in warm["stderr"]


@pytest.mark.parametrize(
    ("fault", "job", "step_key", "says"),
    [
        ("exit_flow.py", "FaultExitFlow", "op_leave", "exit code 3"),
        ("sigkill_flow.py", "FaultSigkillFlow", "op_boom", "killed by signal SIGKILL"),
    ],
)
def test_warm_task_exit_status_matches_a_cold_one(
    fault: str, job: str, step_key: str, says: str, flow_dir: Path, tmp_path: Path
) -> None:
    flow = flow_dir / fault
    shutil.copy(FAULTS / fault, flow)
    create(flow, "warm_defs.py")
    create(flow, "mp_defs.py", "--executor", "multiprocess")
    create(flow, "cold_defs.py", "--no-fast-launch")
    texts = {}
    for how in ("warm", "mp", "cold"):
        defs = flow_dir / f"{how}_defs.py"
        result = multiprocess_run(defs, job, tmp_path / how)
        assert not result["success"]
        texts[how] = result["failures"][step_key]
        if how != "cold":
            assert all("(cold:" not in c for c in commands(result))
    for how, text in texts.items():
        assert says in text, (how, text)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_task_that_sets_metaflow_config_gets_a_launcher_of_its_own(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """@environment setting a METAFLOW_* variable: Metaflow reads it at import, which a
    process that imported Metaflow without it already did. The task runs warm in a
    launcher started with its own environment; nothing falls back to a cold start."""
    flow = copy_flow("fidelity_flow.py", flow_dir)
    source = flow.read_text().replace(
        "from metaflow import FlowSpec, step",
        "from metaflow import FlowSpec, environment, step",
    )
    source = source.replace(
        "    @step\n    def start(self):",
        '    @environment(vars={"METAFLOW_DEBUG_SUBCOMMAND": "0"})\n'
        "    @step\n    def start(self):",
    )
    flow.write_text(source)
    create(flow, "defs.py", "--executor", executor)
    result = multiprocess_run(flow_dir / "defs.py", "FidelityFlow", tmp_path / "h")
    assert result["success"]
    assert all("(cold:" not in c for c in commands(result)), commands(result)
    run = seen(flow_dir, result)
    assert is_launcher(run["cmdline"].encode()), run["cmdline"]
    assert run["env"]["METAFLOW_DEBUG_SUBCOMMAND"] == "0"


def native_outcome(flow: Path, env: dict[str, str] | None = None) -> tuple[bool, str]:
    """`python flow.py run` (with `env` added), allowed to fail: whether it
    succeeded, and its run pathspec."""
    run_id_file = flow.parent / f".run-id-{uuid.uuid4().hex[:8]}"
    proc = run_cli(
        [flow.name, "run", "--run-id-file", str(run_id_file)],
        cwd=flow.parent,
        env=env,
        check=False,
    )
    return proc.returncode == 0, f"{read_flow_name(flow)}/{run_id_file.read_text()}"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_variables_python_reads_as_it_starts_take_effect_as_natively(
    executor: str, flow_dir: Path, tmp_path: Path
) -> None:
    """@environment sets variables CPython reads only as it starts: the hash seed, -O,
    the time zone, warning options, the stdio encoding. No process that started
    without them can fork the task: it runs warm in a launcher started with them, and
    sees what a native run's task sees."""
    flow = flow_dir / "startup_env_flow.py"
    shutil.copy(FAULTS / flow.name, flow)
    ok, pathspec = native_outcome(flow)
    assert ok
    # (stdout is not UTF-8: the client could not read it.)
    [expected] = read_step(flow_dir, f"{pathspec}/start")
    expected["artifacts"].pop("cmdline")
    # Natively, each took effect (else this test shows nothing).
    assert expected["artifacts"]["optimize"] == 1
    assert expected["artifacts"]["debug"] is False
    assert expected["artifacts"]["tzname"] == ["JST", "JST"]
    assert expected["artifacts"]["warnoptions"] == ["ignore::ResourceWarning"]
    assert expected["artifacts"]["stdout"] == ["iso8859-1", "replace"]
    create(flow, "defs.py", "--executor", executor)
    result = multiprocess_run(flow_dir / "defs.py", "StartupEnvFlow", tmp_path / "h")
    assert result["success"], result["failures"]
    assert not [m for m in result["logs"] if "Starting the task cold" in m]
    [task] = read_step(flow_dir, f"StartupEnvFlow/dagster-{result['run_id']}/start")
    assert is_launcher(task["artifacts"].pop("cmdline").encode())
    assert task["artifacts"] == expected["artifacts"]
    assert task["stdout"] == expected["stdout"]


# Locales (`locale -a` on a minimal Linux has C, C.utf8 and POSIX), what CPython's
# startup makes of each for stdout, and whether it can print the undecodable name.
STDIO_LOCALES = {
    # A locale-coercion target: UTF-8, surrogateescape.
    "LANG=C.UTF-8": ({"LANG": "C.UTF-8"}, True),
    # The C locale: UTF-8 mode (UTF-8, surrogateescape).
    "LC_ALL=C": ({"LC_ALL": "C"}, True),
    # The UTF-8 locale `locale -a` lists, errors given: strict (cannot print it).
    "LC_ALL=C.utf8,strict": (
        {"LC_ALL": "C.utf8", "PYTHONIOENCODING": "utf-8:strict"},
        False,
    ),
    # An encoding given alone: Latin-1, and strict errors whatever the locale.
    "LANG=C.UTF-8,latin-1": (
        {"LANG": "C.UTF-8", "PYTHONIOENCODING": "latin-1"},
        False,
    ),
}


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize(
    ("locale_env", "printable"), STDIO_LOCALES.values(), ids=list(STDIO_LOCALES)
)
def test_stdio_is_made_for_the_locale_as_natively(
    executor: str,
    locale_env: dict[str, str],
    printable: bool,
    flow_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step prints a file name that does not decode. Whether it can, and what it
    prints, depends on how CPython made stdout as it started, for the locale the run
    has: a warm task's stdout is made the same way, by a process that provably started
    with the task's environment (the op itself under the multiprocess executor)."""
    for name in ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "PYTHONIOENCODING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PYTHONUTF8", raising=False)
    flow = flow_dir / "surrogate_print_flow.py"
    shutil.copy(FAULTS / flow.name, flow)
    ok, pathspec = native_outcome(flow, locale_env)
    assert ok == printable
    create(flow, "defs.py", "--executor", executor)
    result = multiprocess_run(
        flow_dir / "defs.py", "SurrogatePrintFlow", tmp_path / "h", env=locale_env
    )
    assert result["success"] == ok
    assert not [m for m in result["logs"] if "Starting the task cold" in m]
    ours = f"SurrogatePrintFlow/dagster-{result['run_id']}"
    # (Read as bytes: the client cannot read logs that are not UTF-8.)
    [start] = read_step(flow_dir, f"{ours}/start", locale_env)
    [expected_start] = read_step(flow_dir, f"{pathspec}/start", locale_env)
    assert forked_by(executor, start["artifacts"].pop("cmdline"))
    expected_start["artifacts"].pop("cmdline")
    assert start["artifacts"] == expected_start["artifacts"]
    [show] = read_step(flow_dir, f"{ours}/show", locale_env)
    [expected_show] = read_step(flow_dir, f"{pathspec}/show", locale_env)
    for key in ("successful", "return_code", "stdout"):
        assert show[key] == expected_show[key], key
    # (The native runtime adds a line of its own to a failed task's stderr.)
    assert show["stderr"] == expected_show["stderr"].removesuffix("\nTask failed.")
