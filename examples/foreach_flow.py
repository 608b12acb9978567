from metaflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    """A foreach with a two-step body over a list that is not sorted."""

    @step
    def start(self):
        self.items = [30, 10, 20, 5]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.item = self.input
        self.position = self.index
        self.next(self.body_more)

    @step
    def body_more(self):
        self.squared = self.item * self.item
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.squares = [i.squared for i in inputs]
        self.positions = [i.position for i in inputs]
        self.next(self.single)

    @step
    def single(self):
        self.letters = ["c", "a", "b"]
        self.next(self.shout, foreach="letters")

    @step
    def shout(self):
        self.loud = self.input.upper()
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.louds = [i.loud for i in inputs]
        self.squares = inputs[0].squares
        self.merge_artifacts(inputs, exclude=["loud"])
        self.next(self.end)

    @step
    def end(self):
        print("squares", self.squares, "louds", self.louds)


if __name__ == "__main__":
    ForeachFlow()
