import ctypes
import os
import signal
import subprocess
import time

from metaflow import FlowSpec, current, retry, step, timeout


def record_pids():
    """Leave a grandchild in the step's process group (it inherits MFD_TEST_MARKER)
    and record the step's pid and process group."""
    subprocess.Popen(["sleep", "300"])
    with open(os.environ["MFD_TEST_PIDS"], "a") as f:
        f.write(f"{current.step_name} {os.getpid()} {os.getpgid(0)}\n")


def hang_unkillably(busy):
    """Ignore the signals that could stop this task and hang, leaving a grandchild."""
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    record_pids()
    if busy:
        while True:
            pass
    time.sleep(300)


def hang_in_native_code():
    """Block in C while holding the GIL, so no Python signal handler can ever run: not
    Metaflow's own SIGALRM (@timeout), not the SIGTERM handler below, which would end
    the task at once. Only SIGKILL stops it.

    `sleep()` through ctypes would not do: a signal with a Python handler interrupts
    it (EINTR), and the handler then runs. A mutex locked twice by the same thread
    never returns: glibc retries the wait after every signal.
    """

    def on_sigterm(signum, frame):
        with open(os.environ["MFD_TEST_PIDS"] + ".handled", "a") as f:
            f.write(f"{current.step_name} handled SIGTERM\n")
        os._exit(1)

    signal.signal(signal.SIGTERM, on_sigterm)
    record_pids()
    libc = ctypes.PyDLL(None)  # PyDLL: a call keeps the GIL
    mutex = ctypes.create_string_buffer(64)  # zeroed: a default (normal) mutex
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)  # deadlocks in C, for ever


class TimeoutFlow(FlowSpec):
    """Steps that hang on their first attempt, immune to Metaflow's own @timeout."""

    @step
    def start(self):
        self.next(self.sleeper, self.spinner, self.native, self.polite)

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
    def native(self):
        if current.retry_count == 0:
            hang_in_native_code()
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
