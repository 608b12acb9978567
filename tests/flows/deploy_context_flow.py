import json

from metaflow import FlowSpec, JSONType, Parameter, step


def described(ctx):
    # What a deploy-time function can read of its context (ParameterContext).
    return json.dumps(
        {
            "flow_name": ctx.flow_name,
            "user_name": ctx.user_name,
            "parameter_name": ctx.parameter_name,
        }
    )


class DeployContextFlow(FlowSpec):
    """Deploy-time (function) defaults, as Metaflow's own test suite writes them, and
    one reporting the context the function was called with."""

    x = Parameter("x", type=int, default=lambda ctx: 124)
    flag = Parameter("flag", type=bool, default=lambda ctx: True)
    ratio = Parameter("ratio", type=float, default=lambda ctx: 0.5)
    text = Parameter("text", type=str, default=lambda ctx: "124")
    blob = Parameter("blob", type=JSONType, default=lambda ctx: '{"a": [1, 2]}')
    context = Parameter("context", type=JSONType, default=described)
    context_text = Parameter("context-text", type=str, default=described)

    @step
    def start(self):
        from metaflow import current

        self.seen = {
            name: [type(getattr(self, name)).__name__, repr(getattr(self, name))]
            for name in current.parameter_names
        }
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployContextFlow()
