from metaflow import FlowSpec, step


class CustomStartEndFlow(FlowSpec):
    """Start and end steps with names of their own."""

    @step(start=True)
    def begin(self):
        self.value = 7
        self.next(self.middle)

    @step
    def middle(self):
        self.value *= 3
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        print(self.value)


if __name__ == "__main__":
    CustomStartEndFlow()
