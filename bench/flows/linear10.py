"""Benchmark flow: a straight line of 10 steps, each doing trivial work."""

from metaflow import FlowSpec, step


class Linear10Flow(FlowSpec):
    @step
    def start(self):
        self.count = 1
        self.next(self.s1)

    @step
    def s1(self):
        self.count += 1
        self.next(self.s2)

    @step
    def s2(self):
        self.count += 1
        self.next(self.s3)

    @step
    def s3(self):
        self.count += 1
        self.next(self.s4)

    @step
    def s4(self):
        self.count += 1
        self.next(self.s5)

    @step
    def s5(self):
        self.count += 1
        self.next(self.s6)

    @step
    def s6(self):
        self.count += 1
        self.next(self.s7)

    @step
    def s7(self):
        self.count += 1
        self.next(self.s8)

    @step
    def s8(self):
        self.count += 1
        self.next(self.end)

    @step
    def end(self):
        self.count += 1
        assert self.count == 10, self.count


if __name__ == "__main__":
    Linear10Flow()
