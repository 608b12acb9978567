"""Benchmark flow: a foreach 10 wide nested in a foreach 10 wide (100 inner tasks)."""

from metaflow import FlowSpec, step

OUTER = 10
INNER = 10


class Nested10x10Flow(FlowSpec):
    @step
    def start(self):
        self.outer_items = list(range(OUTER))
        self.next(self.outer, foreach="outer_items")

    @step
    def outer(self):
        self.row = self.input
        self.inner_items = list(range(INNER))
        self.next(self.inner, foreach="inner_items")

    @step
    def inner(self):
        self.cell = self.row * INNER + self.input
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        cells = [i.cell for i in inputs]
        row = inputs[0].row
        assert cells == [row * INNER + n for n in range(INNER)], cells
        self.row_total = sum(cells)
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.total = sum(i.row_total for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        n = OUTER * INNER
        assert self.total == n * (n - 1) // 2, self.total


if __name__ == "__main__":
    Nested10x10Flow()
