import os

from metaflow import FlowSpec, current, step


def record(what):
    """Appends to executions.log: which user code ran (to prove nothing ran twice)."""
    with open("executions.log", "a") as log:
        log.write(f"{what}\n")


class ResumeFlow(FlowSpec):
    """One foreach split fails while the marker file exists."""

    @step
    def start(self):
        record("start")
        self.items = [10, 20, 30]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        record(f"body {self.input} attempt {current.retry_count}")
        if self.input == 20 and os.path.exists("fail.marker"):
            raise RuntimeError("failing while fail.marker exists")
        self.value = self.input + 1
        self.next(self.join)

    @step
    def join(self, inputs):
        record("join")
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        record("end")
        self.total = sum(self.values)


if __name__ == "__main__":
    ResumeFlow()
