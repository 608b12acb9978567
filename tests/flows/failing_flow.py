from metaflow import FlowSpec, step


def fail(message):
    raise ValueError(message)


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.boom)

    @step
    def boom(self):
        fail("boom on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailingFlow()
