import os

from metaflow import FlowSpec, environment, resources, step

VARS = {
    "MFD_QUOTES": "say \"hi\" and 'bye'",
    "MFD_SPACES": "  two  spaces  and a tab\t",
    "MFD_UNICODE": "héllo wörld ✓ 日本語",
    "MFD_EQUALS": "a=b==c=",
    "MFD_NUMBER": 42,
    "MFD_FLAG": True,
    "MFD_EMPTY": "",
}


class EnvironmentFlow(FlowSpec):
    """@environment values reach the task as str(value); @resources shows as op tags."""

    @environment(vars=VARS)
    @resources(cpu=2, memory=2048, gpu=1)
    @step
    def start(self):
        self.seen = {name: os.environ.get(name) for name in VARS}
        self.next(self.end)

    @step
    def end(self):
        # @environment is per step: it does not leak into the next one.
        self.leaked = {n: os.environ[n] for n in VARS if n in os.environ}


if __name__ == "__main__":
    EnvironmentFlow()
