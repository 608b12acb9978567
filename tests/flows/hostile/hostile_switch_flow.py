"""A switch start whose branches carry names Dagster reserves for outputs, and one
named like the start op's own guard output (`started`), where the others converge."""

from metaflow import FlowSpec, Parameter, step


class HostileSwitchFlow(FlowSpec):
    way = Parameter("way", default="output")

    @step
    def start(self):
        self.next(
            {"output": self.output, "meta": self.meta, "started": self.started},
            condition="way",
        )

    @step
    def output(self):
        self.took = "output"
        self.next(self.started)

    @step
    def meta(self):
        self.took = "meta"
        self.next(self.started)

    @step
    def started(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HostileSwitchFlow()
