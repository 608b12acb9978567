from metaflow import FlowSpec, current, retry, step


class LateRetryFlow(FlowSpec):
    """Its retry is due only after the --workflow-timeout it is deployed with."""

    @retry(times=1, minutes_between_retries=0.2)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails; the retry comes 12 seconds later")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LateRetryFlow()
