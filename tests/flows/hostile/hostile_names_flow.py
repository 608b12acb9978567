"""Step and parameter names: keywords-ish, builtins, Dagster and generator names."""

from metaflow import FlowSpec, JSONType, Parameter, step


class HostileNamesFlow(FlowSpec):
    # Parameter names Dagster, pydantic or Python treat specially.
    cfg = Parameter("config", default="c")
    klass = Parameter("class", default="k")
    typ = Parameter("type", type=int, default=1)
    mixed = Parameter("My-Param", default="m")
    dashed = Parameter("with-dash", type=float, default=0.5)
    ctx = Parameter("context", type=bool, default=False)
    mc = Parameter("model_config", default="mc")
    js = Parameter("json", type=JSONType, default='{"n": null}')

    @step
    def start(self):
        self.seen = {
            "config": self.cfg,
            "class": self.klass,
            "type": self.typ,
            "My-Param": self.mixed,
            "with-dash": self.dashed,
            "context": self.ctx,
            "model_config": self.mc,
            "json": self.js,
        }
        self.trail = ["start"]
        self.next(self.type)

    @step
    def type(self):
        self.trail = self.trail + ["type"]
        self.next(self.config)

    @step
    def config(self):
        self.trail = self.trail + ["config"]
        self.next(self.match)

    @step
    def match(self):
        self.trail = self.trail + ["match"]
        self.next(self.context)

    @step
    def context(self):
        self.trail = self.trail + ["context"]
        self.next(self.op_start)

    @step
    def op_start(self):
        self.trail = self.trail + ["op_start"]
        self.next(self.meta)

    @step
    def meta(self):
        self.trail = self.trail + ["meta"]
        self.next(self.conf)

    @step
    def conf(self):
        self.trail = self.trail + ["conf"]
        self.next(self.output)

    @step
    def output(self):
        self.trail = self.trail + ["output"]
        self.next(self.job)

    @step
    def job(self):
        self.trail = self.trail + ["job"]
        self.next(self.run_step)

    @step
    def run_step(self):
        self.trail = self.trail + ["run_step"]
        self.items = ["a", "b"]
        self.next(self.defs, foreach="items")

    @step
    def defs(self):
        self.trail = self.trail + ["defs:" + self.input]
        self.next(self.arg_dict)

    @step
    def arg_dict(self, inputs):
        self.trail = sorted(t for i in inputs for t in i.trail)
        self.next(self.input_arg_dict)

    @step
    def input_arg_dict(self):
        self.trail = self.trail + ["input_arg_dict"]
        self.next(self.case, self.print)

    @step
    def case(self):
        self.left = "case"
        self.next(self.op_end)

    @step
    def print(self):
        self.right = "print"
        self.next(self.op_end)

    @step
    def op_end(self, inputs):
        self.trail = inputs.case.trail + [inputs.case.left, inputs.print.right]
        self.next(self.end)

    @step
    def end(self):
        self.trail = self.trail + ["end"]


if __name__ == "__main__":
    HostileNamesFlow()
