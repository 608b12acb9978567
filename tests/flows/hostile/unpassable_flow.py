"""Values a Dagster run could not hand to Metaflow (NUL bytes), and a pair of
parameters Metaflow cannot tell apart."""

from metaflow import FlowSpec, Parameter, environment, step


class UnpassableFlow(FlowSpec):
    nul = Parameter("nul", default="a\x00b")
    dashed = Parameter("a-b", default="1")
    under = Parameter("a_b", default="2")

    @environment(vars={"BAD": "x\x00y"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnpassableFlow()
