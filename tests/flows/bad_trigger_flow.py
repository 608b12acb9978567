from metaflow import FlowSpec, Parameter, step, trigger


@trigger(
    event={"name": "mfd.bad", "parameters": {"missing": "field"}},
    options={"reset_at": {"cron": "0 0 * * *"}},
)
class BadTriggerFlow(FlowSpec):
    """Maps a payload field to a parameter it does not have; uses Argo-only options."""

    size = Parameter("size", default=1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadTriggerFlow()
