import os
import signal
import time

from metaflow import FlowSpec, step


class HangFlow(FlowSpec):
    """No @timeout in the source: it comes from `--with timeout:seconds=N`."""

    @step
    def start(self):
        self.next(self.hang)

    @step
    def hang(self):
        for sig in (signal.SIGALRM, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        print(f"hanging in pid {os.getpid()}", flush=True)
        time.sleep(300)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HangFlow()
