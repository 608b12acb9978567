from metaflow import FlowSpec, current, project, step, trigger_on_finish


@project(name="mfd_trig")
@trigger_on_finish(flows=["UpstreamFlow", "OtherUpstreamFlow"])
class JoinDownstreamFlow(FlowSpec):
    """Starts once both upstream flows (same project and branch) finished."""

    @step
    def start(self):
        trigger = getattr(current, "trigger", None)
        self.runs = sorted(run.pathspec for run in trigger.runs) if trigger else None
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinDownstreamFlow()
