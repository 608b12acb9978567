from metaflow import FlowSpec, step


class LinearFlow(FlowSpec):
    """A straight line of steps."""

    @step
    def start(self):
        self.value = 42
        print("starting with", self.value)
        self.next(self.double)

    @step
    def double(self):
        self.value *= 2
        self.next(self.end)

    @step
    def end(self):
        print("final value", self.value)


if __name__ == "__main__":
    LinearFlow()
