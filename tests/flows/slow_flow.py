import time

from metaflow import FlowSpec, step


class SlowFlow(FlowSpec):
    """Runs far longer than the --workflow-timeout it is deployed with."""

    @step
    def start(self):
        self.next(self.slow)

    @step
    def slow(self):
        time.sleep(300)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowFlow()
