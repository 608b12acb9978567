import sys
import time

from metaflow import FlowSpec, step


class SlowPrintFlow(FlowSpec):
    """Prints, waits, prints again: output must reach Dagster before the step ends."""

    @step
    def start(self):
        print("first line", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        time.sleep(3)
        print("second line", flush=True)
        self.next(self.end)

    @step
    def end(self):
        print("the end")


if __name__ == "__main__":
    SlowPrintFlow()
