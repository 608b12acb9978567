from metaflow import FlowSpec, step


class NestedSwitchFlow(FlowSpec):
    """Nested switches, a split inside a branch, a switch inside a split, a foreach."""

    @step
    def start(self):
        self.outer_choice = "left"
        self.next({"left": self.left, "right": self.right}, condition="outer_choice")

    @step
    def left(self):
        self.inner_choice = "deep"
        self.next({"deep": self.deep, "shallow": self.shallow}, condition="inner_choice")

    @step
    def deep(self):
        self.next(self.deep_a, self.deep_b)

    @step
    def deep_a(self):
        self.flavor = "a"
        self.pick = "fan"
        self.next({"fan": self.fan, "plain": self.plain}, condition="pick")

    @step
    def fan(self):
        self.items = [3, 1, 2]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.sq = self.input * self.input
        self.next(self.fan_join)

    @step
    def fan_join(self, inputs):
        self.squares = [i.sq for i in inputs]
        self.flavor = inputs[0].flavor
        self.next(self.deep_a_done)

    @step
    def plain(self):
        self.squares = []
        self.next(self.deep_a_done)

    @step
    def deep_a_done(self):
        self.next(self.deep_join)

    @step
    def deep_b(self):
        self.flavor = "b"
        self.squares = None
        self.next(self.deep_join)

    @step
    def deep_join(self, inputs):
        self.squares = inputs.deep_a_done.squares
        self.flavors = sorted([inputs.deep_a_done.flavor, inputs.deep_b.flavor])
        self.next(self.left_done)

    @step
    def shallow(self):
        self.squares = []
        self.flavors = []
        self.next(self.left_done)

    @step
    def left_done(self):
        self.next(self.finish)

    @step
    def right(self):
        self.squares = []
        self.flavors = []
        self.next(self.finish)

    @step
    def finish(self):
        self.summary = {"squares": self.squares, "flavors": self.flavors}
        self.next(self.end)

    @step
    def end(self):
        print(self.summary)


if __name__ == "__main__":
    NestedSwitchFlow()
