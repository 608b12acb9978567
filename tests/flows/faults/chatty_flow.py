"""A step that writes about 20 MB to stdout, and one line of 1 MB without a newline."""

import sys

from metaflow import FlowSpec, step

LINES = 200_000
LINE = "0123456789" * 10


class FaultChattyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.talk)

    @step
    def talk(self):
        out = sys.stdout
        for i in range(LINES):
            out.write(f"{i:08d} {LINE}\n")
        out.write("x" * 1_000_000)
        out.flush()
        print("to stderr as well", file=sys.stderr)
        self.lines = LINES
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FaultChattyFlow()
