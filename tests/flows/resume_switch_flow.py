import os

from metaflow import FlowSpec, Parameter, step


def record(what):
    """Appends to executions.log: which user code ran (to prove nothing ran twice)."""
    with open("executions.log", "a") as log:
        log.write(f"{what}\n")


class ResumeSwitchFlow(FlowSpec):
    """A switch start whose chosen branch fails while the marker file exists."""

    way = Parameter("way", default="slow")

    @step
    def start(self):
        record("start")
        self.next({"slow": self.slow, "fast": self.fast}, condition="way")

    @step
    def slow(self):
        record("slow")
        if os.path.exists("fail.marker"):
            raise RuntimeError("failing while fail.marker exists")
        self.took = "slow"
        self.next(self.merge)

    @step
    def fast(self):
        record("fast")
        self.took = "fast"
        self.next(self.merge)

    @step
    def merge(self):
        record("merge")
        self.result = self.took.upper()
        self.next(self.end)

    @step
    def end(self):
        record("end")


if __name__ == "__main__":
    ResumeSwitchFlow()
