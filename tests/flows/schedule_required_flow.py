from metaflow import FlowSpec, Parameter, schedule, step


@schedule(hourly=True)
class ScheduleRequiredFlow(FlowSpec):
    """A scheduled run could never supply `size`: refused at compile time."""

    size = Parameter("size", required=True, type=int)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ScheduleRequiredFlow()
