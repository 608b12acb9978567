from metaflow import FlowSpec, step


class BranchFlow(FlowSpec):
    """A split whose first branch splits again."""

    @step
    def start(self):
        self.base = 10
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.left_a, self.left_b)

    @step
    def left_a(self):
        self.part = self.base + 1
        self.next(self.left_join)

    @step
    def left_b(self):
        self.part = self.base + 2
        self.next(self.left_join)

    @step
    def left_join(self, inputs):
        self.left_total = sum(i.part for i in inputs)
        self.next(self.join)

    @step
    def right(self):
        self.right_total = self.base * 3
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = inputs.left_join.left_total + inputs.right.right_total
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    BranchFlow()
