"""A foreach as wide as $WIDE_FOREACH_WIDTH (default 150): over `run`'s default
--max-num-splits of 100."""

import os

from metaflow import FlowSpec, step


class WideForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ.get("WIDE_FOREACH_WIDTH", "150"))))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        squares = [i.square for i in inputs]
        self.total = sum(squares)
        self.count = len(squares)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideForeachFlow()
