import time

from metaflow import FlowSpec, step


class OrderedJoinFlow(FlowSpec):
    """A foreach of 12 splits whose earlier splits finish later: the join must still
    see its inputs in split order (split 10 after split 2, whatever finished first)."""

    @step
    def start(self):
        self.items = [f"item-{i}" for i in range(12)]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        # Earlier splits sleep longer (0.6 s down to 0.05 s), so they tend to finish
        # in reverse order.
        time.sleep(0.05 * (len(self.items) - self.index))
        self.item = self.input
        self.position = self.index
        self.finished_at = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.joined_items = [i.item for i in inputs]
        self.joined_positions = [i.position for i in inputs]
        # The order in which the splits finished, to show what the join resisted.
        by_finish = sorted(inputs, key=lambda i: i.finished_at)
        self.finish_order = [i.position for i in by_finish]
        self.next(self.end)

    @step
    def end(self):
        print("joined", self.joined_positions)


if __name__ == "__main__":
    OrderedJoinFlow()
