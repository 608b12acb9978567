"""@resources of several kinds, for the Celery and Kubernetes executors' op tags."""

from metaflow import FlowSpec, resources, step


class ExecutorResourcesFlow(FlowSpec):
    @resources(cpu=0.5, memory=512)
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.train, foreach="items")

    @resources(cpu=4, memory=16000, gpu=2, disk=20480, shared_memory=1024)
    @step
    def train(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.outs = sorted(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecutorResourcesFlow()
