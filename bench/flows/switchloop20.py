"""Benchmark flow: a recursive switch step that loops 20 times, then exits."""

from metaflow import FlowSpec, step

ITERATIONS = 20


class SwitchLoop20Flow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.route = "again" if self.count < ITERATIONS else "done"
        self.next({"again": self.loop, "done": self.end}, condition="route")

    @step
    def end(self):
        assert self.count == ITERATIONS, self.count


if __name__ == "__main__":
    SwitchLoop20Flow()
