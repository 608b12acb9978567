"""Parameter attributes named like what the generated Config class body uses."""

from metaflow import FlowSpec, JSONType, Parameter, step


class HostileFieldsFlow(FlowSpec):
    Field = Parameter("Field", default="f")
    Any = Parameter("Any", type=JSONType, default='{"k": null}')
    after = Parameter("after", default="z")

    @step
    def start(self):
        self.seen = {"Field": self.Field, "Any": self.Any, "after": self.after}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HostileFieldsFlow()
