"""Metaflow's own test suite `test/core` through the `dagster` scheduler: the CI subset.

`scripts/metaflow_suites.py core --reduced` copies ../shared/metaflow-tests to a scratch
directory, applies the adaptations in ci/metaflow-suites/ (each justified in its
README.md) and runs Metaflow's own runner, run_tests.py, with the project's scheduler
context: every applicable test flow on one graph (chosen deterministically), compiled
with `dagster create`, launched with `dagster trigger`, checked by Metaflow's CLI and
metadata checkers. The full run (every graph) and test/ux: docs/METAFLOW_SUITES.md.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import pytest
from conftest import REPO

SCRIPT = REPO / "scripts" / "metaflow_suites.py"
SUITES = REPO.parent / "shared" / "metaflow-tests"
# About 5 minutes on 2 cores with nothing else running; room for a loaded machine.
TIMEOUT = 1500


@pytest.mark.timeout(TIMEOUT + 60)
def test_metaflow_core_suite_reduced() -> None:
    assert (SUITES / "test" / "core" / "run_tests.py").is_file(), (
        f"Metaflow's test suites are expected at {SUITES}"
    )
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "core", "--reduced"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    # The summary names every combination, pass or fail, and the scratch directory
    # kept with each failing test's output in run_tests.log.
    assert proc.returncode == 0, proc.stdout[-12000:] + proc.stderr[-4000:]
    assert " 0 failed" in proc.stdout


def test_the_suites_runner_starts_with_default_signals() -> None:
    """Started from a process that ignores SIGTERM and SIGINT (a pytest worker that ran
    a Dagster job after being started by a background CI shell), the script still
    gives Metaflow's runner default signals: its pool ends workers with SIGTERM."""
    probe = (
        "import signal, subprocess, sys\n"
        f"sys.path.insert(0, {str(SCRIPT.parent)!r})\n"
        "import metaflow_suites\n"
        "metaflow_suites._default_signals()\n"
        "out = subprocess.run(['cat', '/proc/self/status'], capture_output=True,\n"
        "                     text=True).stdout\n"
        "print(next(l for l in out.splitlines() if l.startswith('SigIgn:')))\n"
    )

    def ignore() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_IGN)

    def ignored(preexec: Callable[[], None] | None, code: str) -> int:
        line = subprocess.run(
            [sys.executable, "-c", code],
            preexec_fn=preexec,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return int(line[-1], 16)

    mask = sum(1 << (s - 1) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    # The probe without the reset sees the ignores (the test's premise holds) ...
    without = probe.replace("metaflow_suites._default_signals()\n", "")
    assert ignored(ignore, without) & mask == mask
    # ... and with it, none of them.
    assert ignored(ignore, probe) & mask == 0
