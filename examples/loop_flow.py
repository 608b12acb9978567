from metaflow import FlowSpec, step


class LoopFlow(FlowSpec):
    """A step that loops on itself until a counter reaches its limit."""

    @step
    def start(self):
        self.counter = 0
        self.history = []
        self.next(self.grow)

    @step
    def grow(self):
        self.counter += 1
        self.history = self.history + [self.counter]
        self.state = "again" if self.counter < 4 else "done"
        self.next({"again": self.grow, "done": self.end}, condition="state")

    @step
    def end(self):
        print(self.counter, self.history)


if __name__ == "__main__":
    LoopFlow()
