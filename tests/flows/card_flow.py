"""Cards: a default card, a second card with an id the step appends to, a card whose
task leaves a stray file no card can be named like in its card directory (listing its
cards fails: the op must warn and still succeed), and a step without any card."""

import os

from metaflow import FlowSpec, card, current, step
from metaflow.cards import Markdown


class CardFlow(FlowSpec):
    @card
    @step
    def start(self):
        self.value = 42
        self.next(self.report)

    @card
    @card(type="blank", id="x")
    @step
    def report(self):
        current.card["x"].append(Markdown("hello card"))
        self.next(self.stray)

    @card
    @step
    def stray(self):
        from metaflow.plugins.cards.card_datastore import CardDatastore

        # Where this task's cards go (the task runs in the flow's directory).
        cards = os.path.join(
            CardDatastore.get_storage_root("local"),
            current.flow_name,
            "runs",
            current.run_id,
            "steps",
            current.step_name,
            "tasks",
            current.task_id,
            "cards",
        )
        os.makedirs(cards, exist_ok=True)
        with open(os.path.join(cards, "not-a-card-name.html"), "w") as f:
            f.write("<html></html>")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardFlow()
