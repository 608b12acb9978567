"""The datastore becomes unwritable for the next step: the start step puts a regular
file where Metaflow must create the `end` step's directory (tests run as root, which
chmod cannot stop)."""

import os

from metaflow import FlowSpec, current, step


class FaultSabotageFlow(FlowSpec):
    @step
    def start(self):
        root = os.environ["FAULT_DATASTORE_ROOT"]
        run_dir = os.path.join(root, current.flow_name, current.run_id)
        with open(os.path.join(run_dir, "end"), "w") as f:
            f.write("not a directory\n")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FaultSabotageFlow()
