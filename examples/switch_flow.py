from metaflow import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    """A switch with a two-step branch, a one-step branch and a case that skips ahead."""

    kind = Parameter("kind", default="high-value")

    @step
    def start(self):
        self.route = self.kind
        self.next(
            {"high-value": self.big, "low value": self.small, "skip": self.merge},
            condition="route",
        )

    @step
    def big(self):
        self.size = 100
        self.next(self.big_more)

    @step
    def big_more(self):
        self.size += 1
        self.next(self.merge)

    @step
    def small(self):
        self.size = 1
        self.next(self.merge)

    @step
    def merge(self):
        self.result = getattr(self, "size", 0)
        self.next(self.end)

    @step
    def end(self):
        print("result", self.result)


if __name__ == "__main__":
    SwitchFlow()
