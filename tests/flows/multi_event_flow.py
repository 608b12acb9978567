from metaflow import FlowSpec, Parameter, step, trigger


@trigger(events=["mfd.left", {"name": "mfd.right", "parameters": {"count": "n"}}])
class MultiEventFlow(FlowSpec):
    """Starts once both events arrived (as Argo Events waits for all dependencies)."""

    count = Parameter("count", default=0)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MultiEventFlow()
