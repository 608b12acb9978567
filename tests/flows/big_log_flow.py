"""A step printing $BIG_LOG_MB megabytes (default 1.5) to stdout and 1.2 times that to
stderr: over `--max-log-size`, so Metaflow stores each stream truncated."""

import os
import sys

from metaflow import FlowSpec, step


class BigLogFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.loud)

    @step
    def loud(self):
        megabytes = float(os.environ.get("BIG_LOG_MB", "1.5"))
        lines = int(megabytes * 1024 * 1024 / 100)
        for i in range(lines):
            print(f"out {i:08d} " + "o" * 86)
        for i in range(int(lines * 1.2)):
            print(f"err {i:08d} " + "e" * 86, file=sys.stderr)
        print("last stdout line")
        self.lines = lines
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigLogFlow()
