"""A 12-wide foreach whose every split fails while fail.marker exists: re-executing
the failed run starts all twelve splits' ops at once, in a process that has not yet
imported Metaflow."""

import os

from metaflow import FlowSpec, step


class FaultWideResumeFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(12))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if os.path.exists("fail.marker"):
            raise RuntimeError("failing while fail.marker exists")
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)


if __name__ == "__main__":
    FaultWideResumeFlow()
