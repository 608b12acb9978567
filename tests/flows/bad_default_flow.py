import os

from metaflow import FlowSpec, JSONType, Parameter, step
from metaflow._vendor import click


def fails(ctx):
    raise RuntimeError("no default today")


# One parameter per case, named after it; BAD_DEFAULT picks the case, so that the same
# flow file serves `dagster create` and the native run it is compared with.
CASES = {
    # Defaults `python flow.py run` fails on.
    "int-text": dict(type=int, default="x"),
    "bool-text": dict(type=bool, default="maybe"),
    "bool-int": dict(type=bool, default=1),
    "json-text": dict(type=JSONType, default="{not json"),
    "fn-raises": dict(type=int, default=fails),
    "int-fn-none": dict(type=int, default=lambda ctx: None),
    "str-fn-none": dict(type=str, default=lambda ctx: None),
    "bool-fn-int": dict(type=bool, default=lambda ctx: 124),
    "str-fn-int": dict(type=str, default=lambda ctx: 5),
    "json-fn-dict": dict(type=JSONType, default=lambda ctx: {"a": 1}),
    # Defaults `run` hands the flow as they are, which a Dagster run cannot.
    "str-int": dict(type=str, default=32),
    "json-tuple": dict(type=JSONType, default=(1, 2)),
    "json-int-key": dict(type=JSONType, default={1: "a"}),
    "float-nan": dict(type=float, default="nan"),
    "choice": dict(type=click.Choice(["a", "b"]), default="b"),
}
CASE = os.environ.get("BAD_DEFAULT", "int-text")


class BadDefaultFlow(FlowSpec):
    """A flow whose one parameter has a default a Dagster run cannot start it with."""

    value = Parameter(CASE, **CASES[CASE])

    @step
    def start(self):
        self.seen = [type(self.value).__name__, repr(self.value)]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadDefaultFlow()
