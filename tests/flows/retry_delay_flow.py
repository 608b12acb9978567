from metaflow import FlowSpec, current, retry, step


class RetryDelayFlow(FlowSpec):
    """@retry with a fractional delay: each retry is due 3 seconds after a failure."""

    @retry(times=2, minutes_between_retries=0.05)
    @step
    def start(self):
        if current.retry_count < 2:
            raise RuntimeError(f"attempt {current.retry_count} fails on purpose")
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryDelayFlow()
