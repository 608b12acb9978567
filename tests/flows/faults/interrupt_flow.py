"""A task process whose flow file lets a KeyboardInterrupt escape while being loaded:
Python reports it, runs its atexit handlers, and dies of SIGINT (as a shell expects of
an interrupted program)."""

import atexit
import sys

from metaflow import FlowSpec, step

if "step" in sys.argv and "interrupted" in sys.argv:  # that task's process only
    atexit.register(print, "atexit handlers ran", file=sys.stderr)
    raise KeyboardInterrupt


class FaultInterruptFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.interrupted)

    @step
    def interrupted(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FaultInterruptFlow()
