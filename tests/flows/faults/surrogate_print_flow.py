"""Prints a file name that does not decode (a str with a surrogate escape), as a step
listing a directory may. Whether that works depends on how Python made sys.stdout at
startup, from the locale (and PYTHONIOENCODING, UTF-8 mode)."""

import os
import sys

from metaflow import FlowSpec, step


class SurrogatePrintFlow(FlowSpec):
    @step
    def start(self):
        self.stdio = [sys.stdout.encoding, sys.stdout.errors, sys.stderr.errors]
        with open("/proc/self/cmdline", "rb") as f:
            self.cmdline = f.read().replace(b"\0", b" ").decode()
        self.next(self.show)

    @step
    def show(self):
        name = os.fsdecode(b"caf\xe9")
        # One string each: a print that fails leaves no partial line behind.
        print(f"name: {name}")
        print(f"name on stderr: {name}", file=sys.stderr)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SurrogatePrintFlow()
