from metaflow import FlowSpec, step


def fail(message):
    raise ValueError(message)


class CatchFlow(FlowSpec):
    """Fails unless a @catch is attached with --with."""

    @step
    def start(self):
        self.next(self.risky)

    @step
    def risky(self):
        fail("caught?")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchFlow()
