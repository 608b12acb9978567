import os
import time
from pathlib import Path

from metaflow import FlowSpec, current, parallel, step

# Given as a name, not a literal: Metaflow's graph then has no number for num_parallel
# (the compiler must still plan @parallel, and read N at run time).
NODES = 3


class ParallelOverlapFlow(FlowSpec):
    """A gang of @parallel tasks that can only finish if they all run at once: each
    waits (up to a minute) until every node of the gang has started."""

    @step
    def start(self):
        self.next(self.train, num_parallel=NODES)

    @parallel
    @step
    def train(self):
        self.node = current.parallel.node_index
        self.nodes = current.parallel.num_nodes
        self.started_at = time.time()
        barrier = Path(__file__).resolve().parent / f".barrier-{current.run_id}"
        barrier.mkdir(exist_ok=True)
        (barrier / str(self.node)).write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while len(list(barrier.iterdir())) < self.nodes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {self.node}: the others never started")
            time.sleep(0.05)
        self.seen = len(list(barrier.iterdir()))
        time.sleep(0.5)
        self.ended_at = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.spans = {i.node: [i.started_at, i.ended_at] for i in inputs}
        self.seen = sorted(i.seen for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(sorted(self.spans), self.seen)


if __name__ == "__main__":
    ParallelOverlapFlow()
