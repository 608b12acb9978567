from metaflow import FlowSpec, current, parallel, step


class ParallelFlow(FlowSpec):
    """A gang of three parallel tasks (@parallel), joined."""

    @step
    def start(self):
        self.base = 10
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self):
        self.node = current.parallel.node_index
        self.nodes = current.parallel.num_nodes
        self.value = self.base + self.node
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.nodes = sorted(i.node for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.values, self.nodes)


if __name__ == "__main__":
    ParallelFlow()
