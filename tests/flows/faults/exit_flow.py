"""A step that exits non-zero without raising (os._exit skips every handler)."""

import os

from metaflow import FlowSpec, step


class FaultExitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.leave)

    @step
    def leave(self):
        print("leaving with exit code 3", flush=True)
        os._exit(3)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FaultExitFlow()
