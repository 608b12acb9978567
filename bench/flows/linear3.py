from metaflow import FlowSpec, step


class Linear3Flow(FlowSpec):
    """Three steps in a line, doing nothing: what a run costs around its tasks."""

    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    Linear3Flow()
