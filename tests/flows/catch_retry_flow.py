import os
import signal
import time

from metaflow import FlowSpec, catch, current, retry, step, timeout


def fail(message):
    raise ValueError(message)


class CatchRetryFlow(FlowSpec):
    """@catch alone, @catch after @retry, and @catch after the op killed a hung step."""

    @step
    def start(self):
        self.next(self.caught, self.retried, self.killed)

    @catch(var="caught_problem")
    @step
    def caught(self):
        fail("caught without retries")
        self.next(self.join)

    @catch(var="retried_problem")
    @retry(times=2, minutes_between_retries=0)
    @step
    def retried(self):
        fail(f"fails on attempt {current.retry_count}")
        self.next(self.join)

    @catch(var="killed_problem")
    @timeout(seconds=1)
    @step
    def killed(self):
        # Neither Metaflow's SIGALRM nor SIGTERM stops this: the op must SIGKILL it.
        for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        print(f"hanging in pid {os.getpid()}", flush=True)
        time.sleep(300)
        self.next(self.join)

    @step
    def join(self, inputs):
        # What @catch stored (a MetaflowExceptionWrapper): exception type and message.
        caught = {
            "caught": inputs.caught.caught_problem,
            "retried": inputs.retried.retried_problem,
            "killed": inputs.killed.killed_problem,
        }
        self.problems = {
            name: {"type": problem.type, "message": problem.exception}
            for name, problem in caught.items()
        }
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchRetryFlow()
