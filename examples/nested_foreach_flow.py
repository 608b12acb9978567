from metaflow import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    """Two foreach levels; the inner body has two steps and a split/join."""

    @step
    def start(self):
        self.groups = ["g2", "g0", "g1"]
        self.next(self.outer, foreach="groups")

    @step
    def outer(self):
        self.group = self.input
        self.members = [f"{self.group}-m{i}" for i in range(int(self.group[1]) + 1)]
        self.next(self.inner, foreach="members")

    @step
    def inner(self):
        self.member = self.input
        self.next(self.inner_a, self.inner_b)

    @step
    def inner_a(self):
        self.part = self.member.upper()
        self.next(self.inner_join)

    @step
    def inner_b(self):
        self.part = self.member[::-1]
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.member = inputs.inner_a.member
        self.group = inputs.inner_a.group
        self.combined = inputs.inner_a.part + "+" + inputs.inner_b.part
        self.next(self.inner_more)

    @step
    def inner_more(self):
        self.final = f"[{self.combined}]"
        self.next(self.join_members)

    @step
    def join_members(self, inputs):
        self.group = inputs[0].group
        self.finals = [i.final for i in inputs]
        self.next(self.after_members)

    @step
    def after_members(self):
        self.count = len(self.finals)
        self.next(self.join_groups)

    @step
    def join_groups(self, inputs):
        self.by_group = {i.group: i.finals for i in inputs}
        self.order = [i.group for i in inputs]
        self.counts = [i.count for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.order, self.counts)


if __name__ == "__main__":
    NestedForeachFlow()
