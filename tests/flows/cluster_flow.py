"""A flow for runs on workers: a foreach, a branch and a step that can wait.

`--hold N` makes every `body` task wait N seconds for a child process it starts (whose
command line names the run, so a test can find the task's process tree on any worker),
long enough to cancel a run or lose a worker while a task runs; `hold` changes no
artifact, so a held run and an uninterrupted one must end with the same artifacts.
"""

import subprocess
import sys

from metaflow import FlowSpec, Parameter, current, step


class ClusterFlow(FlowSpec):
    hold = Parameter("hold", type=int, default=0)

    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.hold:
            wait = "import sys, time; time.sleep(float(sys.argv[1]))"
            marker = f"cluster-hold-{current.run_id}"
            subprocess.run([sys.executable, "-c", wait, str(self.hold), marker])
        self.part = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.parts = sorted(i.part for i in inputs)
        self.next(self.fan)

    @step
    def fan(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.next(self.meet)

    @step
    def right(self):
        self.side = "right"
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.parts = inputs[0].parts
        self.next(self.end)

    @step
    def end(self):
        self.summary = f"{current.flow_name}: {'+'.join(self.parts)} {self.sides}"


if __name__ == "__main__":
    ClusterFlow()
