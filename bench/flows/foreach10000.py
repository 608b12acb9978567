"""Benchmark flow: a foreach 10,000 wide with a trivial one-step body."""

from metaflow import FlowSpec, step

WIDTH = 10000


class Foreach10000Flow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(WIDTH))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.value = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        values = [i.value for i in inputs]
        assert values == [2 * n for n in range(WIDTH)], values[:10]
        self.total = sum(values)
        self.next(self.end)

    @step
    def end(self):
        assert self.total == WIDTH * (WIDTH - 1), self.total


if __name__ == "__main__":
    Foreach10000Flow()
