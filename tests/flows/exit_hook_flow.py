"""@exit_hook: on_success and on_error hooks that leave a marker and print.

Each hook given the run writes `hook_markers/<run id>/<hook>.json` beside this file
(what it saw) and prints a line. EXIT_HOOK_FAIL=1 makes the `middle` step fail, so the
run fails.
`broken_hook` prints, then raises: a failing hook must not fail a successful run, and
the hooks after it still run.
"""

import json
import os

from metaflow import FlowSpec, current, exit_hook, step

HERE = os.path.dirname(os.path.abspath(__file__))


def _mark(hook, run, **extra):
    folder = os.path.join(HERE, "hook_markers", run.id)
    os.makedirs(folder, exist_ok=True)
    seen = {
        "hook": hook,
        "run": run.pathspec,
        "successful": run.successful,
        "finished": run.finished,
        **extra,
    }
    with open(os.path.join(folder, hook + ".json"), "w") as f:
        json.dump(seen, f)
    print(f"exit hook {hook} saw {seen['run']} successful={seen['successful']}")


def record_success(run):
    _mark("record_success", run, end_value=run["end"].task["value"].data)


def broken_hook():
    print("broken_hook is about to fail")
    raise RuntimeError("this hook fails on purpose")


def plain_hook():
    # No `run` argument: Metaflow calls it without one, so it cannot tell which run
    # ended; it appends a line to one file.
    folder = os.path.join(HERE, "hook_markers")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "plain_hook.log"), "a") as f:
        f.write("called\n")
    print("exit hook plain_hook called")


def record_error(run):
    _mark("record_error", run)


@exit_hook(on_success=[record_success, "broken_hook", plain_hook])
@exit_hook(on_error=["record_error"])
class ExitHookFlow(FlowSpec):
    @step
    def start(self):
        self.value = 1
        self.next(self.middle)

    @step
    def middle(self):
        if os.environ.get("EXIT_HOOK_FAIL") == "1":
            raise RuntimeError("middle fails on purpose")
        self.value += 1
        self.next(self.end)

    @step
    def end(self):
        print("end of", current.run_id)


if __name__ == "__main__":
    ExitHookFlow()
