"""A small flow for concurrent runs: every task checks it sees its own run's values."""

from metaflow import FlowSpec, Parameter, current, step


class FaultLoadFlow(FlowSpec):
    token = Parameter("token", required=True)

    @step
    def start(self):
        self.mine = self.token
        self.run_seen = current.run_id
        self.parts = [f"{self.token}/0", f"{self.token}/1"]
        self.next(self.body, foreach="parts")

    @step
    def body(self):
        assert self.run_seen == current.run_id, (self.run_seen, current.run_id)
        assert self.input.startswith(self.token + "/"), (self.input, self.token)
        self.part = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.parts_seen = [i.part for i in inputs]
        self.merge_artifacts(inputs, include=["mine", "run_seen"])
        self.next(self.end)

    @step
    def end(self):
        assert self.run_seen == current.run_id, (self.run_seen, current.run_id)
        assert self.mine == self.token, (self.mine, self.token)
        self.final = self.mine


if __name__ == "__main__":
    FaultLoadFlow()
