from metaflow import FlowSpec, step


class LoopsFlow(FlowSpec):
    """A self-looping switch at the top level, then one in a foreach body where each
    split loops its own number of times."""

    @step
    def start(self):
        self.counter = 0
        self.history = []
        self.next(self.grow)

    @step
    def grow(self):
        self.counter += 1
        self.history = self.history + [self.counter]
        self.state = "again" if self.counter < 3 else "go on"
        self.next({"again": self.grow, "go on": self.fork}, condition="state")

    @step
    def fork(self):
        self.limits = [2, 1, 3]
        self.next(self.spin, foreach="limits")

    @step
    def spin(self):
        self.limit = self.input
        self.count = getattr(self, "count", 0) + 1
        self.state = "more" if self.count < self.limit else "stop"
        self.next({"more": self.spin, "stop": self.done}, condition="state")

    @step
    def done(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.counts = [i.count for i in inputs]
        self.history = inputs[0].history
        self.next(self.end)

    @step
    def end(self):
        print(self.history, self.counts)


if __name__ == "__main__":
    LoopsFlow()
