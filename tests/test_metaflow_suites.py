"""Metaflow's own test suite `test/core` through the `dagster` scheduler: the CI subset.

`scripts/metaflow_suites.py core --reduced` copies ../shared/metaflow-tests to a scratch
directory, applies the adaptations in ci/metaflow-suites/ (each justified in its
README.md) and runs Metaflow's own runner, run_tests.py, with the project's scheduler
context: every applicable test flow on one graph (chosen deterministically), compiled
with `dagster create`, launched with `dagster trigger`, checked by Metaflow's CLI and
metadata checkers. The full run (every graph) and test/ux: docs/METAFLOW_SUITES.md.
"""

from __future__ import annotations

import subprocess
import sys

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
