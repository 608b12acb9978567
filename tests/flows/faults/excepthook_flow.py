"""A task process whose flow file raises while being loaded, with a sys.excepthook of
its own that reports it and exits 5. Python hands an unhandled exception to
sys.excepthook (and a SystemExit there sets the exit status)."""

import sys

from metaflow import FlowSpec, step

if "step" in sys.argv and "crash" in sys.argv:  # only the `crash` task's process

    def report(kind, value, tb):
        print(f"custom hook saw {kind.__name__}: {value}", file=sys.stderr)
        sys.exit(5)

    sys.excepthook = report
    raise RuntimeError("raised while loading the flow")


class FaultExcepthookFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.crash)

    @step
    def crash(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FaultExcepthookFlow()
