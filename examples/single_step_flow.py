from metaflow import FlowSpec, step


class SingleStepFlow(FlowSpec):
    """A flow of one step, both start and end."""

    @step(start=True, end=True)
    def only(self):
        self.answer = 42


if __name__ == "__main__":
    SingleStepFlow()
