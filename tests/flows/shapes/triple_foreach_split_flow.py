from metaflow import FlowSpec, step


class TripleForeachSplitFlow(FlowSpec):
    """Three foreach levels (unsorted lists); the innermost body has several steps and
    a split/join."""

    @step
    def start(self):
        self.xs = [2, 1]
        self.next(self.level1, foreach="xs")

    @step
    def level1(self):
        self.x = self.input
        self.ys = list(reversed(range(self.x)))
        self.next(self.level2, foreach="ys")

    @step
    def level2(self):
        self.y = self.input
        self.zs = ["b", "a"] if (self.x, self.y) == (2, 0) else ["c"]
        self.next(self.level3, foreach="zs")

    @step
    def level3(self):
        self.label = f"{self.x}.{self.y}.{self.input}"
        self.next(self.upper, self.lower)

    @step
    def upper(self):
        self.part = self.label.upper()
        self.next(self.inner_join)

    @step
    def lower(self):
        self.part = self.label[::-1]
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.label = inputs.upper.label
        self.combined = inputs.upper.part + "|" + inputs.lower.part
        self.next(self.polish)

    @step
    def polish(self):
        self.final = f"<{self.combined}>"
        self.next(self.join3)

    @step
    def join3(self, inputs):
        self.finals = [i.final for i in inputs]
        self.next(self.join2)

    @step
    def join2(self, inputs):
        self.finals = [f for i in inputs for f in i.finals]
        self.next(self.join1)

    @step
    def join1(self, inputs):
        self.finals = [f for i in inputs for f in i.finals]
        self.next(self.end)

    @step
    def end(self):
        print(self.finals)


if __name__ == "__main__":
    TripleForeachSplitFlow()
