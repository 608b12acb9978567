from metaflow import FlowSpec, step


class ForeachInBranchFlow(FlowSpec):
    """A foreach inside one branch of a split."""

    @step
    def start(self):
        self.next(self.fan, self.plain)

    @step
    def fan(self):
        self.words = ["delta", "alpha", "charlie"]
        self.next(self.measure, foreach="words")

    @step
    def measure(self):
        self.length = len(self.input)
        self.next(self.fan_join)

    @step
    def fan_join(self, inputs):
        self.lengths = [i.length for i in inputs]
        self.next(self.join)

    @step
    def plain(self):
        self.note = "plain branch"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.lengths = inputs.fan_join.lengths
        self.note = inputs.plain.note
        self.next(self.end)

    @step
    def end(self):
        print(self.lengths, self.note)


if __name__ == "__main__":
    ForeachInBranchFlow()
