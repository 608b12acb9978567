"""A small flow to look at in the Dagster UI: parameters, a split/join and a foreach.

    python ui_demo_flow.py dagster create ui_demo_flow_dagster.py
    dagster dev -f ui_demo_flow_dagster.py

The job graph shows both shapes: `start` splits into `count_words` and `shout`;
`count_words` fans out over the words (`measure`, one op per word) and fans back in
(`collect`); `join` meets both branches before `end`, whose @card report the `end`
op's metadata points to (`card`: the HTML file; `open card`: the commands to view it).
"""

from metaflow import FlowSpec, Parameter, card, current, step
from metaflow.cards import Markdown


class UiDemoFlow(FlowSpec):
    """Greets, counts the words of a sentence in parallel, then puts it all together."""

    sentence = Parameter(
        "sentence",
        help="The sentence whose words are measured, one foreach task per word.",
        default="hello dagster",
    )
    repeat = Parameter(
        "repeat",
        help="How many times the greeting is repeated.",
        default=2,
    )

    @step
    def start(self):
        """Split the sentence into words, then greet and count at the same time."""
        self.words = self.sentence.split()
        print(f"start: {len(self.words)} words in {self.sentence!r}")
        self.next(self.count_words, self.shout)

    @step
    def count_words(self):
        """Fan out: one `measure` task per word."""
        print(f"count_words: fanning out over {self.words}")
        self.next(self.measure, foreach="words")

    @step
    def measure(self):
        """Measure one word."""
        self.word = self.input
        self.length = len(self.word)
        print(f"measure: {self.word!r} has {self.length} letters")
        self.next(self.collect)

    @step
    def collect(self, inputs):
        """Gather every word's length into one dict."""
        self.lengths = {i.word: i.length for i in inputs}
        print(f"collect: {self.lengths}")
        self.next(self.join)

    @step
    def shout(self):
        """Repeat the greeting `repeat` times."""
        self.greeting = " ".join(["HELLO"] * self.repeat)
        print(f"shout: {self.greeting}")
        self.next(self.join)

    @step
    def join(self, inputs):
        """Meet both branches: the greeting and the lengths."""
        self.lengths = inputs.collect.lengths
        self.greeting = inputs.shout.greeting
        print(f"join: {self.greeting} / {self.lengths}")
        self.next(self.end)

    @card
    @step
    def end(self):
        """Report the total in a card."""
        total = sum(self.lengths.values())
        print(f"end: {total} letters in {len(self.lengths)} words")
        current.card.append(Markdown(f"# {self.greeting}"))
        for word, length in sorted(self.lengths.items()):
            current.card.append(Markdown(f"- `{word}`: {length} letters"))


if __name__ == "__main__":
    UiDemoFlow()
