"""A foreach inside a foreach, each split of the outer one ($OUTER_WIDTH wide) yielding
$INNER_WIDTH inner splits: --max-num-splits applies to each foreach task."""

import os

from metaflow import FlowSpec, step


class NestedWideForeachFlow(FlowSpec):
    @step
    def start(self):
        self.outer = list(range(int(os.environ.get("OUTER_WIDTH", "2"))))
        self.next(self.mid, foreach="outer")

    @step
    def mid(self):
        self.inner = list(range(int(os.environ.get("INNER_WIDTH", "2"))))
        self.next(self.leaf, foreach="inner")

    @step
    def leaf(self):
        self.value = self.input
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.count = len(self.values)
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.counts = [i.count for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedWideForeachFlow()
