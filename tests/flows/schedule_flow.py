import json
import os

from metaflow import FlowSpec, Parameter, schedule, step

# The test chooses the @schedule arguments at `dagster create` time.
SCHEDULE = json.loads(os.environ.get("MFD_TEST_SCHEDULE", "{}"))


@schedule(**SCHEDULE)
class ScheduleFlow(FlowSpec):
    """A scheduled flow: its parameters need defaults."""

    size = Parameter("size", default=3)

    @step
    def start(self):
        self.doubled = self.size * 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ScheduleFlow()
