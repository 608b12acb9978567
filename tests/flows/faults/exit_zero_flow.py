"""Steps that exit with code 0 before they finish, chosen by the environment.

FAULT_STEP names the step; FAULT_HOW is "sys" (`sys.exit(0)`: Metaflow's handlers run
and record the attempt as done, without `_task_ok` or a transition) or "os"
(`os._exit(0)`: nothing is recorded, not even the DONE marker). Only a task's first
attempt exits: a retry would succeed, so whether such a failure is retried shows.
"""

import os
import sys

from metaflow import FlowSpec, current, retry, step


def record(what):
    """Appends to executions.log: which user code ran (to prove nothing ran twice)."""
    with open("executions.log", "a") as log:
        log.write(f"{what}\n")


def fault(name, when=True):
    if not when or current.retry_count != 0:
        return
    if os.environ.get("FAULT_STEP") != name:
        return
    print(f"{name}: exiting with code 0", flush=True)
    if os.environ.get("FAULT_HOW") == "os":
        os._exit(0)
    sys.exit(0)


class FaultExitZeroFlow(FlowSpec):
    @step
    def start(self):
        record("start")
        self.choice = "a"
        self.counter = 0
        self.next(self.plain)

    @step
    def plain(self):
        record("plain")
        fault("plain")
        self.plain_done = True
        self.next(self.retried)

    @retry(times=1)
    @step
    def retried(self):
        record(f"retried attempt {current.retry_count}")
        fault("retried")
        self.retried_done = True
        self.next(self.pick)

    @retry(times=1)
    @step
    def pick(self):
        record(f"pick attempt {current.retry_count}")
        fault("pick")
        self.next({"a": self.a, "b": self.b}, condition="choice")

    @step
    def a(self):
        self.branch = "a"
        self.next(self.grow)

    @step
    def b(self):
        self.branch = "b"
        self.next(self.grow)

    @retry(times=1)
    @step
    def grow(self):
        self.counter += 1
        record(f"grow {self.counter} attempt {current.retry_count}")
        # The second iteration exits: the first is done, and stays accepted.
        fault("grow", when=self.counter == 2)
        self.state = "again" if self.counter < 3 else "done"
        self.next({"again": self.grow, "done": self.end}, condition="state")

    @retry(times=1)
    @step
    def end(self):
        record(f"end attempt {current.retry_count}")
        fault("end")
        self.total = self.counter * 10


if __name__ == "__main__":
    FaultExitZeroFlow()
