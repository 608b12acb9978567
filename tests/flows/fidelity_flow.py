"""Records what a task sees of its process, to compare a warm (forked) task with a cold
one (a new interpreter)."""

import os
import signal
import sys
import threading

from metaflow import FlowSpec, step

SIGNALS = ("SIGINT", "SIGTERM", "SIGPIPE", "SIGCHLD", "SIGALRM", "SIGHUP", "SIGUSR1")


class FidelityFlow(FlowSpec):
    @step
    def start(self):
        self.cwd = os.getcwd()
        self.argv = sys.argv
        self.path0 = sys.path[0]
        self.module = __name__
        self.handlers = {s: repr(signal.getsignal(getattr(signal, s))) for s in SIGNALS}
        self.blocked = sorted(
            int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        )
        self.session_leader = os.getsid(0) == os.getpid()
        self.stdin = sys.stdin.read()
        self.stdout_write_through = sys.stdout.write_through
        self.threads = threading.active_count()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("METAFLOW_", "PYTHON", "FIDELITY_"))
            and k != "METAFLOW_RUN_ID"
        }
        with open("/proc/self/cmdline", "rb") as f:
            self.cmdline = f.read().replace(b"\0", b" ").decode()
        print("fidelity to stdout")
        print("fidelity to stderr", file=sys.stderr)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FidelityFlow()
