import os

from metaflow import FlowSpec, current, step


class TaskIdsFlow(FlowSpec):
    """Parallel branches and a foreach, every task storing its `current.task_id`.

    With MERGE_ALL set, the join merges every artifact, the branches' differing
    `my_id` included: Metaflow refuses the merge (MergeArtifactsException). With
    `fail.marker` in the flow's directory, foreach split 1 fails (for re-execution).
    """

    @step
    def start(self):
        self.my_id = current.task_id
        self.next(self.left, self.right)

    @step
    def left(self):
        self.my_id = current.task_id
        self.next(self.join)

    @step
    def right(self):
        self.my_id = current.task_id
        self.next(self.join)

    @step
    def join(self, inputs):
        self.branch_ids = sorted(i.my_id for i in inputs)
        if os.environ.get("MERGE_ALL"):
            self.merge_artifacts(inputs)
        else:
            self.merge_artifacts(inputs, exclude=["my_id"])
        self.my_id = current.task_id
        self.next(self.fork)

    @step
    def fork(self):
        self.my_id = current.task_id
        self.items = [10, 20, 30]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.my_id = current.task_id
        if self.input == 20 and os.path.exists("fail.marker"):
            raise RuntimeError("body 20 fails while fail.marker exists")
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.body_ids = [i.my_id for i in inputs]
        self.my_id = current.task_id
        self.next(self.end)

    @step
    def end(self):
        self.my_id = current.task_id


if __name__ == "__main__":
    TaskIdsFlow()
