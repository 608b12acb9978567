from metaflow import FlowSpec, step


class LoopInForeachFlow(FlowSpec):
    """A self-loop inside a foreach body: each split loops its own number of times."""

    @step
    def start(self):
        self.limits = [3, 1, 2]
        self.next(self.prepare, foreach="limits")

    @step
    def prepare(self):
        self.limit = self.input
        self.count = 0
        self.next(self.spin)

    @step
    def spin(self):
        self.count += 1
        self.state = "more" if self.count < self.limit else "stop"
        self.next({"more": self.spin, "stop": self.done}, condition="state")

    @step
    def done(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.counts = [i.count for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.counts)


if __name__ == "__main__":
    LoopInForeachFlow()
