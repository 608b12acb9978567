from metaflow import FlowSpec, current, project, step, trigger_on_finish


@project(name="mfd_trig")
@trigger_on_finish(flow="UpstreamFlow")
class DownstreamFlow(FlowSpec):
    """Starts when UpstreamFlow (same project and branch) finishes successfully."""

    @step
    def start(self):
        self.seen = self.trigger_facts()
        self.next(self.end)

    @step
    def end(self):
        self.seen_at_end = self.trigger_facts()

    def trigger_facts(self):
        # `current.trigger` exists only in a triggered run (as under `run --trigger`).
        trigger = getattr(current, "trigger", None)
        if not trigger:
            return None
        return {
            "run": trigger.run.pathspec,
            "value": trigger.run.data.value,
            "event": trigger.event.name,
        }


if __name__ == "__main__":
    DownstreamFlow()
