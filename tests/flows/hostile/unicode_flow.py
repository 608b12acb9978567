"""A flow class name that is a Python identifier but not ASCII."""

from metaflow import FlowSpec, Parameter, step


class Flüsse_Ωmega(FlowSpec):
    word = Parameter("wört", default="grüß")

    @step
    def start(self):
        self.seen = self.word
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    Flüsse_Ωmega()
