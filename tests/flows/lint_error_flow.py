from metaflow import FlowSpec, step


class LintErrorFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        pass

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LintErrorFlow()
