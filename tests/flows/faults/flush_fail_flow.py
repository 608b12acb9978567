"""A step whose sys.stdout cannot be flushed once atexit handlers have run. Python
flushes stdout after them, as its process ends; a failure makes it exit 120."""

import atexit
import sys

from metaflow import FlowSpec, step

FINAL = []


class FlushAfterAtexit:
    def __init__(self, inner):
        self.inner = inner

    def write(self, text):
        return self.inner.write(text)

    def flush(self):
        if FINAL:
            raise OSError("stdout cannot be flushed any more")
        self.inner.flush()


class FaultFlushFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.unflushable)

    @step
    def unflushable(self):
        print("stdout goes unflushable at exit")
        sys.stdout = FlushAfterAtexit(sys.stdout)
        atexit.register(FINAL.append, True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FaultFlushFlow()
