"""Records what Python made, at startup, of variables @environment sets: the hash seed,
-O, the time zone, warning options, stdio. A task that forked from a process started
without them would show that process's."""

import sys
import time

from metaflow import FlowSpec, environment, step


class StartupEnvFlow(FlowSpec):
    @environment(
        vars={
            "PYTHONHASHSEED": "0",
            "PYTHONOPTIMIZE": "1",
            "TZ": "Asia/Tokyo",
            "PYTHONWARNINGS": "ignore::ResourceWarning",
            "PYTHONIOENCODING": "latin-1:replace",
        }
    )
    @step
    def start(self):
        self.hash = hash("abc")
        self.optimize = sys.flags.optimize
        self.debug = __debug__
        self.tzname = list(time.tzname)
        self.warnoptions = list(sys.warnoptions)
        self.flags = list(sys.flags)
        self.stdout = [sys.stdout.encoding, sys.stdout.errors]
        print("caf\u00e9 \u2603")
        with open("/proc/self/cmdline", "rb") as f:
            self.cmdline = f.read().replace(b"\0", b" ").decode()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StartupEnvFlow()
