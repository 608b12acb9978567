"""A step that records its pid (and a child's) and then sleeps: the test kills the op
process that runs it, mid-step."""

import os
import subprocess
import sys
import time

from metaflow import FlowSpec, current, step


class FaultSleepyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.nap)

    @step
    def nap(self):
        # A grandchild of the op, as user code often starts (it must not survive).
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        folder = os.environ["FAULT_PID_DIR"]
        with open(os.path.join(folder, "pids.tmp"), "w") as f:
            f.write(f"{os.getpid()} {child.pid} {current.run_id}")
        os.replace(os.path.join(folder, "pids.tmp"), os.path.join(folder, "pids"))
        time.sleep(float(os.environ.get("FAULT_SLEEP_SECONDS", "40")))
        self.finished_nap = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FaultSleepyFlow()
