from metaflow import FlowSpec, step


class TripleForeachFlow(FlowSpec):
    """Three foreach levels deep."""

    @step
    def start(self):
        self.xs = [2, 1]
        self.next(self.level1, foreach="xs")

    @step
    def level1(self):
        self.x = self.input
        self.ys = list(range(self.x))
        self.next(self.level2, foreach="ys")

    @step
    def level2(self):
        self.y = self.input
        self.zs = ["b", "a"]
        self.next(self.level3, foreach="zs")

    @step
    def level3(self):
        self.label = f"{self.x}.{self.y}.{self.input}"
        self.next(self.join3)

    @step
    def join3(self, inputs):
        self.labels = [i.label for i in inputs]
        self.next(self.join2)

    @step
    def join2(self, inputs):
        self.labels = [label for i in inputs for label in i.labels]
        self.next(self.join1)

    @step
    def join1(self, inputs):
        self.labels = [label for i in inputs for label in i.labels]
        self.next(self.end)

    @step
    def end(self):
        print(self.labels)


if __name__ == "__main__":
    TripleForeachFlow()
