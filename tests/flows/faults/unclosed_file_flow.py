"""A buffered file a step opens and never closes, held by its module: its write is only
flushed when Python tears the module down at exit. The next step reads it."""

import os

from metaflow import FlowSpec, current, step

KEPT = []


class UnclosedFileFlow(FlowSpec):
    @step
    def start(self):
        here = os.getcwd()
        self.paths = {"unclosed": os.path.join(here, f"unclosed-{current.run_id}")}
        log = open(self.paths["unclosed"], "w")  # noqa: SIM115 (left open on purpose)
        log.write("written by start, never flushed by the step\n")
        KEPT.append(log)
        self.next(self.end)

    @step
    def end(self):
        self.seen = {}
        for name, path in self.paths.items():
            if os.path.exists(path):
                with open(path) as f:
                    self.seen[name] = f.read()


if __name__ == "__main__":
    UnclosedFileFlow()
