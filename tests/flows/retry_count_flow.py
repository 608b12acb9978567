from metaflow import FlowSpec, current, retry, step


class RetryCountFlow(FlowSpec):
    """@retry: the true attempt number reaches the task; a foreach's cardinality comes
    from the attempt that succeeded, not from a failed one that chose other splits."""

    @retry(times=3, minutes_between_retries=0)
    @step
    def start(self):
        if current.retry_count < 2:
            # Stored with the failed attempt; the good one has no such artifact.
            self.doomed = current.retry_count
            raise RuntimeError(f"attempt {current.retry_count} fails on purpose")
        self.seen_retry_count = current.retry_count
        self.next(self.fan)

    @retry(times=1, minutes_between_retries=0)
    @step
    def fan(self):
        if current.retry_count == 0:
            self.doomed = current.retry_count
            self.items = [1, 2, 3, 4, 5]
            self.next(self.body, foreach="items")
            raise RuntimeError("fails after choosing five splits")
        self.items = ["a", "b"]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.item = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.items_seen = [i.item for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryCountFlow()
