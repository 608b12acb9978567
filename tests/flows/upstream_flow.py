from metaflow import FlowSpec, Parameter, project, step


@project(name="mfd_trig")
class UpstreamFlow(FlowSpec):
    """Finishes (or fails, with --fail) to trigger DownstreamFlow."""

    fail = Parameter("fail", default=False, type=bool)

    @step
    def start(self):
        if self.fail:
            raise RuntimeError("upstream fails on purpose")
        self.value = 41
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UpstreamFlow()
