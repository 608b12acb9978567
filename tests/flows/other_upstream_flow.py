from metaflow import FlowSpec, project, step


@project(name="mfd_trig")
class OtherUpstreamFlow(FlowSpec):
    """Second upstream flow: JoinDownstreamFlow waits for this one and UpstreamFlow."""

    @step
    def start(self):
        self.other = "ready"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    OtherUpstreamFlow()
