"""Integers beyond 2**53 (Python's are unbounded; JavaScript's are doubles)."""

from metaflow import FlowSpec, JSONType, Parameter, step


class BigIntFlow(FlowSpec):
    big = Parameter("big", type=int, default=2**53 + 1)
    nested = Parameter("nested", type=JSONType, default='{"id": 12345678901234567891}')

    @step
    def start(self):
        self.seen = {"big": self.big, "nested": self.nested}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigIntFlow()
