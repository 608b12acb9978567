"""Benchmark flow: a static split 8 branches wide, joined once."""

from metaflow import FlowSpec, step


class Branch8Flow(FlowSpec):
    @step
    def start(self):
        self.base = 1
        self.next(
            self.b0, self.b1, self.b2, self.b3, self.b4, self.b5, self.b6, self.b7
        )

    @step
    def b0(self):
        self.part = self.base + 0
        self.next(self.join)

    @step
    def b1(self):
        self.part = self.base + 1
        self.next(self.join)

    @step
    def b2(self):
        self.part = self.base + 2
        self.next(self.join)

    @step
    def b3(self):
        self.part = self.base + 3
        self.next(self.join)

    @step
    def b4(self):
        self.part = self.base + 4
        self.next(self.join)

    @step
    def b5(self):
        self.part = self.base + 5
        self.next(self.join)

    @step
    def b6(self):
        self.part = self.base + 6
        self.next(self.join)

    @step
    def b7(self):
        self.part = self.base + 7
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.part for i in inputs)
        assert self.total == 8 + sum(range(8)), self.total
        self.next(self.end)

    @step
    def end(self):
        assert self.total == 36


if __name__ == "__main__":
    Branch8Flow()
