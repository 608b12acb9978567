import time

from metaflow import FlowSpec, step


class NestedForeachOverlapFlow(FlowSpec):
    """Two foreach levels; each inner task sleeps a second, so siblings overlap."""

    @step
    def start(self):
        self.groups = [3, 2]
        self.next(self.outer, foreach="groups")

    @step
    def outer(self):
        self.size = self.input
        self.members = [f"m{self.size}-{i}" for i in reversed(range(self.size))]
        self.next(self.inner, foreach="members")

    @step
    def inner(self):
        self.member = self.input
        time.sleep(1)
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.members = [i.member for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.members = [m for i in inputs for m in i.members]
        self.next(self.end)

    @step
    def end(self):
        print(self.members)


if __name__ == "__main__":
    NestedForeachOverlapFlow()
