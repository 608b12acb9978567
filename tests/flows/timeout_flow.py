import os
import signal
import subprocess
import time

from metaflow import FlowSpec, current, retry, step, timeout


def hang_unkillably(busy):
    """Ignore the signals that could stop this task and hang, leaving a grandchild."""
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    # A grandchild in the step's process group (it inherits MFD_TEST_MARKER).
    subprocess.Popen(["sleep", "300"])
    with open(os.environ["MFD_TEST_PIDS"], "a") as f:
        f.write(f"{current.step_name} {os.getpid()} {os.getpgid(0)}\n")
    if busy:
        while True:
            pass
    time.sleep(300)


class TimeoutFlow(FlowSpec):
    """Steps that hang on their first attempt, immune to Metaflow's own @timeout."""

    @step
    def start(self):
        self.next(self.sleeper, self.spinner, self.polite)

    @timeout(seconds=2)
    @retry(times=1, minutes_between_retries=0)
    @step
    def sleeper(self):
        if current.retry_count == 0:
            hang_unkillably(busy=False)
        self.attempt = current.retry_count
        self.next(self.join)

    @timeout(seconds=2)
    @retry(times=1, minutes_between_retries=0)
    @step
    def spinner(self):
        if current.retry_count == 0:
            hang_unkillably(busy=True)
        self.attempt = current.retry_count
        self.next(self.join)

    @timeout(seconds=2)
    @retry(times=1, minutes_between_retries=0)
    @step
    def polite(self):
        # Metaflow's own @timeout (SIGALRM) stops this one before the op has to.
        if current.retry_count == 0:
            time.sleep(300)
        self.attempt = current.retry_count
        self.next(self.join)

    @step
    def join(self, inputs):
        self.attempts = sorted(i.attempt for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TimeoutFlow()
