"""Work a step hands to threads and does not wait for: a non-daemon thread, and a job
submitted to a ThreadPoolExecutor. Python finishes both as its process ends
(threading._shutdown, before atexit handlers run), so the next step finds the files
they write, and the atexit handler finds both written already."""

import atexit
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from metaflow import FlowSpec, current, step


def write_later(path, text):
    time.sleep(1.0)
    with open(path, "w") as f:
        f.write(text)


def record_at_exit(path, marks):
    # What was done when atexit handlers ran.
    with open(path, "w") as f:
        json.dump({name: os.path.exists(p) for name, p in marks.items()}, f)


class ThreadWorkFlow(FlowSpec):
    @step
    def start(self):
        here = os.getcwd()
        self.marks = {
            name: os.path.join(here, f"mark-{current.run_id}-{name}")
            for name in ("thread", "pool", "atexit")
        }
        threading.Thread(
            target=write_later, args=(self.marks["thread"], "thread")
        ).start()
        pool = ThreadPoolExecutor(max_workers=1)
        pool.submit(write_later, self.marks["pool"], "pool")
        work = {n: p for n, p in self.marks.items() if n != "atexit"}
        atexit.register(record_at_exit, self.marks["atexit"], work)
        self.next(self.end)

    @step
    def end(self):
        self.done = {
            name: os.path.exists(path)
            for name, path in self.marks.items()
            if name != "atexit"
        }
        with open(self.marks["atexit"]) as f:
            self.done_at_atexit = json.load(f)


if __name__ == "__main__":
    ThreadWorkFlow()
