"""A step that kills itself with SIGKILL: no exception, no exit code of its own."""

import os
import signal

from metaflow import FlowSpec, step


class FaultSigkillFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.boom)

    @step
    def boom(self):
        self.before = "set before the kill"
        print("about to SIGKILL myself", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FaultSigkillFlow()
