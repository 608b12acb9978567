from metaflow import FlowSpec, Parameter, step, trigger


@trigger(event="mfd.auto")
class AutoEventFlow(FlowSpec):
    """One event, no mapping: each parameter reads the payload field of its name."""

    Width = Parameter("Width", default=1)
    depth = Parameter("depth", default=2.5)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    AutoEventFlow()
