from metaflow import FlowSpec, JSONType, Parameter, step


def deploy_time_int(ctx):
    # Metaflow's own test suite uses `default=lambda ctx: 124` for int and bool.
    return 124


class CoercedDefaultsFlow(FlowSpec):
    """Defaults Metaflow converts with the parameter's click type before the flow sees
    them, and deploy-time (function) defaults: the values `python flow.py run` gives
    the flow when nothing is passed."""

    n_fn = Parameter("n-fn", type=int, default=deploy_time_int)
    b_fn = Parameter("b-fn", type=bool, default=lambda ctx: True)
    f_fn = Parameter("f-fn", type=float, default=lambda ctx: 2.5)
    s_fn = Parameter("s-fn", type=str, default=lambda ctx: ctx.parameter_name)
    untyped_fn = Parameter("untyped-fn", default=lambda ctx: "plain")
    j_fn = Parameter("j-fn", type=JSONType, default=lambda ctx: '{"k": [1, 2.5]}')
    n_str = Parameter("n-str", type=int, default="5")
    n_float = Parameter("n-float", type=int, default=5.7)
    n_bool = Parameter("n-bool", type=int, default=True)
    b_yes = Parameter("b-yes", type=bool, default="yes")
    b_zero = Parameter("b-zero", type=bool, default="0")
    f_int = Parameter("f-int", type=float, default=1)
    f_str = Parameter("f-str", type=float, default="1.5")
    s_bytes = Parameter("s-bytes", type=str, default=b"raw")
    j_text = Parameter("j-text", type=JSONType, default='"just a string"')
    j_null = Parameter("j-null", type=JSONType, default="null")
    j_obj = Parameter("j-obj", type=JSONType, default={"a": [1, None]})
    # Whole floats stay floats (the compiler's numbers cannot tell 1.0 from 1).
    j_floats = Parameter(
        "j-floats", type=JSONType, default='{"lr": 1.0, "w": [2.0, 3]}'
    )
    listed = Parameter("listed", separator=",", default="a,b,c")

    @step
    def start(self):
        from metaflow import current

        # repr tells 1 from 1.0 and True, and the type name a str from bytes.
        self.seen = {
            name: [type(getattr(self, name)).__name__, repr(getattr(self, name))]
            for name in current.parameter_names
        }
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CoercedDefaultsFlow()
