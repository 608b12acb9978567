from metaflow import FlowSpec, Parameter, step


class SwitchToSplitJoinFlow(FlowSpec):
    """A switch inside a split branch whose cases run straight on to the split's join:
    the join has one input per case and one from the other branch, and runs with the
    two that ran."""

    which = Parameter("which", default="a")

    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.choice = self.which
        self.next({"a": self.a, "b-side": self.b}, condition="choice")

    @step
    def a(self):
        self.part = "a"
        self.next(self.a_more)

    @step
    def a_more(self):
        self.part += "+more"
        self.next(self.join)

    @step
    def b(self):
        self.part = "b"
        self.next(self.join)

    @step
    def right(self):
        self.part = "right"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.parts = sorted(i.part for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.parts)


if __name__ == "__main__":
    SwitchToSplitJoinFlow()
