"""Parameter attributes that are other parameters' names (legal in Metaflow: values
are given by name, `--a x --b y`, and read by attribute)."""

from metaflow import FlowSpec, Parameter, step


class SwappedNamesFlow(FlowSpec):
    a = Parameter("b", default="default of b")
    b = Parameter("a", default="default of a")

    @step
    def start(self):
        self.seen = {"b": self.a, "a": self.b}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwappedNamesFlow()
