from metaflow import FlowSpec, kubernetes, step


class KubernetesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @kubernetes(cpu=2)
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    KubernetesFlow()
