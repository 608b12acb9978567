from metaflow import FlowSpec, Parameter, current, retry, step


class RetryStartFlow(FlowSpec):
    """The start step fails on its first attempt: init must not run twice."""

    size = Parameter("size", default=2)

    @retry(times=2, minutes_between_retries=0)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails on purpose")
        self.attempt_seen = current.retry_count
        self.doubled = self.size * 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryStartFlow()
