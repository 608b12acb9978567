"""Fast launch (`--fast-launch`, on by default): how a flow's tasks start warm.

A generated file with fast launch names FAST_LAUNCH in its FLOW (FlowInfo.fast_launch),
so the compiler embeds this module and the machinery it needs (warm.py, launcher.py,
interpreter.py); one without it carries none of them, and its tasks start as new
interpreters (process.py). Either way a task must look the same to the user's code.
"""

import contextlib
import subprocess
from collections.abc import Mapping

from dagster import OpExecutionContext

from .launcher import LauncherError, launch_warm, start_launcher
from .model import FlowInfo
from .process import start_guarded, task_env
from .warm import op_can_fork, start_warm_task


class FastLaunch:
    """Starts a flow's tasks warm where that is indistinguishable from cold: forked
    from the op's own process (warm.py) when its environment allows, else from the
    flow's launcher (launcher.py), else, should the launcher fail, cold."""

    def prestart(self, flow: FlowInfo) -> None:
        """Start the launcher for the flow's tasks (those without @environment
        variables of their own) now, so that the first task does not wait for it to
        import Metaflow. For ops that run in this process (threads), not in a fork
        server's children."""
        with contextlib.suppress(Exception):  # the first task tries again, and says why
            start_launcher(task_env(flow, ""), flow.flow_dir)

    def start(
        self,
        context: OpExecutionContext,
        flow: FlowInfo,
        args: list[str],
        env: Mapping[str, str],
    ) -> tuple[object, "subprocess.Popen[bytes] | None"]:
        """The task started, and the reaper that kills it should this process die
        first (None: its launcher does). Decided on the task's complete environment."""
        if op_can_fork(env, flow.flow_dir):
            return start_guarded(args, flow.flow_dir, env, fork=start_warm_task)
        try:
            return launch_warm(args, flow.flow_dir, env), None
        except LauncherError as exc:
            context.log.warning(f"Starting the task cold: the launcher failed ({exc})")
        return start_guarded(args, flow.flow_dir, env)


FAST_LAUNCH = FastLaunch()
