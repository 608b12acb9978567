"""Foreach item values as Dagster mapping keys: names that make keys (`alpha`...),
an inner foreach whose values do not (floats: `0.5` holds a dot), a loop right after
a foreach, and a level whose values repeat (`x`, `x`): each level keyed by its values
where all of them make distinct keys, else by split index."""

from metaflow import FlowSpec, step


class ForeachKeysFlow(FlowSpec):
    @step
    def start(self):
        self.names = ["alpha", "beta", "gamma"]
        self.next(self.body, foreach="names")

    @step
    def body(self):
        self.item = self.input
        self.weights = [0.5, 1.5]
        self.next(self.inner, foreach="weights")

    @step
    def inner(self):
        self.part = f"{self.item}:{self.input}"
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.parts = [i.part for i in inputs]
        self.item = inputs[0].item
        self.next(self.after)

    @step
    def after(self):
        self.summary = f"{self.item}={','.join(self.parts)}"
        self.next(self.body_join)

    @step
    def body_join(self, inputs):
        self.summaries = [i.summary for i in inputs]
        self.next(self.twins_start)

    @step
    def twins_start(self):
        self.twins = ["x", "x"]
        self.next(self.twin, foreach="twins")

    @step
    def twin(self):
        self.rounds = getattr(self, "rounds", 0) + 1
        self.again = "twin" if self.rounds < 2 else "twin_done"
        self.next({"twin": self.twin, "twin_done": self.twin_done}, condition="again")

    @step
    def twin_done(self):
        self.next(self.twin_join)

    @step
    def twin_join(self, inputs):
        self.summaries = inputs[0].summaries
        self.rounds = [i.rounds for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        assert self.summaries == [
            "alpha=alpha:0.5,alpha:1.5",
            "beta=beta:0.5,beta:1.5",
            "gamma=gamma:0.5,gamma:1.5",
        ], self.summaries
        assert self.rounds == [2, 2], self.rounds


if __name__ == "__main__":
    ForeachKeysFlow()
