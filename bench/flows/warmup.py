"""Warm-up flow (not measured): two steps, to fill bytecode and file caches."""

from metaflow import FlowSpec, step


class WarmupFlow(FlowSpec):
    @step
    def start(self):
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        assert self.value == 1


if __name__ == "__main__":
    WarmupFlow()
