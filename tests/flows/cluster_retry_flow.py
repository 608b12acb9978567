"""@retry and @timeout for ops on Celery workers: a foreach split fails its first
attempt, a step hangs on its first attempt until Metaflow's @timeout stops it; both
succeed on their retry, as under `python flow.py run`."""

import time

from metaflow import FlowSpec, current, retry, step, timeout


class ClusterRetryFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    def body(self):
        if current.retry_count == 0 and self.input == 2:
            raise RuntimeError("the first attempt fails on purpose")
        self.attempt = current.retry_count
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.attempts = sorted(i.attempt for i in inputs)
        self.next(self.slow)

    @timeout(seconds=2)
    @retry(times=1, minutes_between_retries=0)
    @step
    def slow(self):
        if current.retry_count == 0:
            time.sleep(120)
        self.slow_attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClusterRetryFlow()
