"""What the CLI and the Deployer call: status and termination of runs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from typing import Any

from .background import _instance, _local_run, _worker_alive
from .state import (
    CANCELABLE,
    HOST_TAG,
    PID_TAG,
    POLL_SECONDS,
    URL_ENV,
    LaunchError,
    RunState,
    split_run_id,
)
from .webserver import Webserver


class Runs:
    """Status and termination of runs, through the webserver if one answers."""

    def __init__(self, url: str | None = None, dagster_home: str | None = None) -> None:
        self.webserver = Webserver(url)
        self.dagster_home = dagster_home
        self._answers: bool | None = None
        self._instance: Any = None

    @property
    def via_webserver(self) -> bool:
        if self._answers is None:
            self._answers = self.webserver.answers()
        return self._answers

    @property
    def instance(self) -> Any:
        if self._instance is None:
            self._instance = _instance(self.dagster_home)
        return self._instance

    def get(self, run_id: str) -> RunState | None:
        """`run_id`: a Metaflow run id (`dagster-<id>`, the latest run of the group)
        or a Dagster run id (that very run)."""
        dagster_id, group = split_run_id(run_id)
        if self.via_webserver:
            return self.webserver.run(dagster_id, group=group)
        return _local_run(self.instance, dagster_id, group)

    def terminate(
        self,
        run_id: str,
        force: bool = False,
        timeout: float = 180.0,
        say: Any = None,
    ) -> RunState:
        """Stop a run and wait until it no longer runs; returns its final state."""
        say = say or (lambda _msg: None)
        state = self._require(run_id)
        if state.finished:
            return state
        if state.in_background:
            return self._terminate_background(state, force, timeout, say)
        if not self.via_webserver:
            raise LaunchError(
                f"Run {state.run_id} was launched by a Dagster webserver, and none "
                f"answers at {self.webserver.url}: give its address with "
                f"--dagster-url or ${URL_ENV}."
            )
        deadline = time.monotonic() + timeout
        if force:
            ok, message = self.webserver.terminate(state.run_id, force=True)
            if not ok:
                raise LaunchError(f"Dagster did not cancel {state.run_id}: {message}")
            return self._wait(state.run_id, deadline)
        asked = False
        while True:
            state = self._require(state.run_id)
            if state.finished:
                return state
            if state.status in CANCELABLE and not asked:
                ok, message = self.webserver.terminate(state.run_id, force=False)
                asked = ok
                if not ok:
                    state = self._require(state.run_id)
                    if state.finished:
                        return state
                    if "Unable to terminate" in message:
                        # Dagster cannot reach the run's process any more (its code
                        # server restarted or the process died): mark it canceled.
                        say(
                            f"Dagster cannot reach the process of run {state.run_id} "
                            "any more; marking it canceled."
                        )
                        self.webserver.terminate(state.run_id, force=True)
                        return self._wait(state.run_id, deadline)
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"Run {state.run_id} is still {state.status} after "
                    f"{timeout:.0f}s; use --force to mark it canceled immediately."
                )
            time.sleep(POLL_SECONDS)

    def _terminate_background(
        self, state: RunState, force: bool, timeout: float, say: Any
    ) -> RunState:
        if _worker_alive(state) is None:
            raise LaunchError(
                f"Run {state.run_id} runs in a background process of host "
                f"{state.tags.get(HOST_TAG)}: terminate it there."
            )
        deadline = time.monotonic() + timeout
        signalled = False
        while True:
            state = self._require(state.run_id)
            if state.finished:
                return state
            if not _worker_alive(state):
                break
            # Interrupt the process once the run STARTED: Dagster records an
            # interruption as a cancellation only if the run is CANCELING then, and the
            # process's own start event would overwrite an earlier CANCELING.
            if not signalled and (force or state.status in ("STARTED", "CANCELING")):
                self._interrupt(state)
                signalled = True
            if force:
                break
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"Run {state.run_id} is still {state.status} after "
                    f"{timeout:.0f}s; use --force to mark it canceled immediately."
                )
            time.sleep(POLL_SECONDS)
        # The process is gone without finishing the run (or --force): record the run
        # as canceled.
        say(f"Marking run {state.run_id} canceled.")
        run = self.instance.get_run_by_id(state.run_id)
        if run is not None and not run.is_finished:
            self.instance.report_run_canceled(run, message="Canceled by `terminate`.")
        return self._require(state.run_id)

    def _interrupt(self, state: RunState) -> None:
        run = self.instance.get_run_by_id(state.run_id)
        if run is not None and not run.is_finished and run.status.value != "CANCELING":
            self.instance.report_run_canceling(run)
        try:
            os.kill(int(state.tags[PID_TAG]), signal.SIGINT)
        except ProcessLookupError:
            pass

    def _wait(self, run_id: str, deadline: float) -> RunState:
        while True:
            state = self._require(run_id)
            if state.finished or time.monotonic() > deadline:
                return state
            time.sleep(POLL_SECONDS)

    def _require(self, run_id: str) -> RunState:
        state = self.get(run_id)
        if state is None:
            where = (
                self.webserver.url
                if self.via_webserver
                else (self.dagster_home or os.environ.get("DAGSTER_HOME"))
            )
            raise LaunchError(f"No Dagster run {run_id} at {where}.")
        return state


def wait_until(
    runs: Runs, run_id: str, statuses: Sequence[str], timeout: float
) -> RunState | None:
    """Poll until the run's status is one of `statuses` (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = runs.get(run_id)
        if state is not None and state.status in statuses:
            return state
        time.sleep(POLL_SECONDS)
    return state
