from metaflow import FlowSpec, Parameter, step


class ParamNestedSwitchFlow(FlowSpec):
    """Switches whose choices come from Parameters: a split inside a switch branch, a
    switch in each of its branches (nested in the outer switch), a foreach inside a
    switch branch, branches converging before the split's join."""

    route = Parameter("route", default="left")
    pick = Parameter("pick", default="fan")

    @step
    def start(self):
        self.route_choice = self.route
        self.next({"left": self.left, "right": self.right}, condition="route_choice")

    @step
    def left(self):
        self.next(self.branch_a, self.branch_b)

    @step
    def branch_a(self):
        self.pick_choice = self.pick
        self.next({"fan": self.fan, "plain": self.plain}, condition="pick_choice")

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
        self.next(self.a_done)

    @step
    def plain(self):
        self.squares = []
        self.next(self.a_done)

    @step
    def a_done(self):
        self.a_summary = f"a:{len(self.squares)}"
        self.next(self.left_join)

    @step
    def branch_b(self):
        self.b_mode = "via-step" if self.pick == "fan" else "short cut"
        self.next(
            {"via-step": self.b_via, "short cut": self.b_short}, condition="b_mode"
        )

    @step
    def b_via(self):
        self.b_extra = "visited"
        self.next(self.b_done)

    @step
    def b_short(self):
        self.b_extra = "short"
        self.next(self.b_done)

    @step
    def b_done(self):
        self.next(self.left_join)

    @step
    def left_join(self, inputs):
        self.squares = inputs.a_done.squares
        self.a_summary = inputs.a_done.a_summary
        self.b_mode = inputs.b_done.b_mode
        self.b_extra = inputs.b_done.b_extra
        self.next(self.finish)

    @step
    def right(self):
        self.squares = []
        self.a_summary = None
        self.b_mode = None
        self.b_extra = None
        self.next(self.finish)

    @step
    def finish(self):
        self.summary = {
            "route": self.route,
            "squares": self.squares,
            "a": self.a_summary,
            "b": [self.b_mode, self.b_extra],
        }
        self.next(self.end)

    @step
    def end(self):
        print(self.summary)


if __name__ == "__main__":
    ParamNestedSwitchFlow()
