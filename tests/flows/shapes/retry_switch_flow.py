from metaflow import FlowSpec, current, retry, step


class RetrySwitchFlow(FlowSpec):
    """A switch step whose first attempt chooses branch "a", then fails; the retry
    chooses branch "b". Only b may run: the choice is the successful attempt's."""

    @step
    def start(self):
        self.next(self.decide)

    @retry(times=1, minutes_between_retries=0)
    @step
    def decide(self):
        self.attempt = current.retry_count
        self.choice = "a" if current.retry_count == 0 else "b"
        if current.retry_count == 0:
            # Record the transition to "a" (Metaflow saves a failed task's state too).
            self.next({"a": self.a, "b": self.b}, condition="choice")
            raise RuntimeError("attempt 0 chose 'a', then failed")
        self.next({"a": self.a, "b": self.b}, condition="choice")

    @step
    def a(self):
        self.path = "a"
        self.next(self.done)

    @step
    def b(self):
        self.path = "b"
        self.next(self.done)

    @step
    def done(self):
        self.summary = f"{self.path} after attempt {self.attempt}"
        self.next(self.end)

    @step
    def end(self):
        print(self.summary)


if __name__ == "__main__":
    RetrySwitchFlow()
