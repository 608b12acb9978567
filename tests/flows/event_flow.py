from metaflow import FlowSpec, JSONType, Parameter, step, trigger


@trigger(
    event={"name": "mfd.data_ready", "parameters": {"size": "rows", "Label": "tag"}}
)
class EventFlow(FlowSpec):
    """Started by the event mfd.data_ready; payload fields become parameters."""

    size = Parameter("size", default=1)
    label = Parameter("label", default="none")
    ratio = Parameter("ratio", default=0.5)
    blob = Parameter("blob", type=JSONType, default='{"k": 1}')

    @step
    def start(self):
        self.values = {
            "size": self.size,
            "label": self.label,
            "ratio": self.ratio,
            "blob": self.blob,
        }
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EventFlow()
