import time

from metaflow import FlowSpec, step, timeout


class SleepyFlow(FlowSpec):
    """A step that Metaflow's own @timeout stops."""

    @step
    def start(self):
        self.next(self.nap)

    @timeout(seconds=1)
    @step
    def nap(self):
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleepyFlow()
