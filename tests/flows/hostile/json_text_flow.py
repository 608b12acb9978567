"""JSON parameters whose values are JSON strings, numbers and nested nulls."""

from metaflow import FlowSpec, JSONType, Parameter, step


class JsonTextFlow(FlowSpec):
    text = Parameter("text", type=JSONType, default='"just text"')
    braces = Parameter("braces", type=JSONType, default='"{not: an object}"')
    number = Parameter("number", type=JSONType, default="5")
    nulls = Parameter("nulls", type=JSONType, default='[null, {"a": null}]')

    @step
    def start(self):
        self.seen = {
            "text": self.text,
            "braces": self.braces,
            "number": self.number,
            "nulls": self.nulls,
        }
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JsonTextFlow()
