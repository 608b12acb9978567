from metaflow import FlowSpec, step


class SwitchInForeachFlow(FlowSpec):
    """Each foreach split takes its own branch; branches converge before the join."""

    @step
    def start(self):
        self.numbers = [4, 7, 10, 3]
        self.next(self.classify, foreach="numbers")

    @step
    def classify(self):
        self.n = self.input
        self.parity = "even" if self.n % 2 == 0 else "odd"
        self.next({"even": self.halve, "odd": self.triple}, condition="parity")

    @step
    def halve(self):
        self.out = self.n // 2
        self.next(self.converge)

    @step
    def triple(self):
        self.out = self.n * 3 + 1
        self.next(self.converge)

    @step
    def converge(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = [i.out for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.outs)


if __name__ == "__main__":
    SwitchInForeachFlow()
