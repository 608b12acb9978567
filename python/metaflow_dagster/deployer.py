"""Metaflow's Deployer API for Dagster: `Deployer("flow.py").dagster().create()`.

Registered through `DEPLOYER_IMPL_PROVIDERS_DESC` (see metaflow_extensions). Metaflow
imports this module when `metaflow` itself is imported, so it stays light: the
objects it returns live in `deployer_objects`, imported when first needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from metaflow.runner.deployer_impl import DeployerImpl

if TYPE_CHECKING:
    from .deployer_objects import DagsterDeployedFlow


class DagsterDeployer(DeployerImpl):
    """
    Deployer implementation for Dagster.

    Parameters
    ----------
    dagster_url : str, optional, default None
        Address of the Dagster webserver that runs the job (GraphQL). Defaults to
        the DAGSTER_URL environment variable (of `env`, then of this process), else
        http://127.0.0.1:3000. Without a webserver, runs are launched in a background
        process recorded in the Dagster instance of DAGSTER_HOME.
    """

    TYPE: ClassVar[str | None] = "dagster"

    def __init__(self, deployer_kwargs: dict[str, Any], **kwargs: Any) -> None:
        from .launch import URL_ENV, webserver_url

        own = dict(deployer_kwargs)
        explicit_url = own.pop("dagster_url", None)
        # What is left goes to the `dagster` command group itself (it has no options,
        # so an unknown keyword fails there, with the list of what is accepted).
        self._deployer_kwargs = own
        super().__init__(**kwargs)
        self.dagster_url = webserver_url(explicit_url or self.env_vars.get(URL_ENV))
        self.dagster_home: str | None = self.env_vars.get("DAGSTER_HOME")

    @property
    def deployer_kwargs(self) -> dict[str, Any]:
        return self._deployer_kwargs

    @staticmethod
    def deployed_flow_type() -> type[DagsterDeployedFlow]:
        from .deployer_objects import DagsterDeployedFlow

        return DagsterDeployedFlow

    def create(self, **kwargs: Any) -> DagsterDeployedFlow:
        """
        Compile the flow into a Dagster definitions file (`dagster create`).

        Serve the file with a Dagster webserver (`dagster dev -f <file>`) to run the
        job there; `trigger` launches in a background process when none answers.

        Parameters
        ----------
        output : str, optional, default None
            The definitions file to write (default: `<flow file>_dagster.py` in the
            working directory).
        name : str, optional, default None
            Dagster job name (default: the flow name).
        tags : List[str], optional, default None
            Metaflow tags for every run of the job.
        decospecs : List[str], optional, default None
            Step decorators to add to every step, as with `--with`.
        workflow_timeout : int, optional, default None
            Stop a run of the job after this many seconds.

        Returns
        -------
        DagsterDeployedFlow
            The job, ready to be triggered.
        """
        from .deployer_objects import DagsterDeployedFlow

        started = len(self.spm.commands)
        try:
            return self._create(DagsterDeployedFlow, **kwargs)
        except RuntimeError as exc:
            if len(self.spm.commands) == started:
                raise  # it failed before starting `create`
            raise RuntimeError(self._failure_message(str(exc))) from exc

    def _failure_message(self, message: str) -> str:
        """Metaflow's message for a failed `create`, with the command's whole output.

        Metaflow builds it as soon as the process has exited, from log files that
        threads are still copying the process's output into (written in full only when
        they reach end of input): under load the message came without the reason. Wait
        for those threads, then build it again.
        """
        from metaflow.runner.utils import make_process_error_message

        command = list(self.spm.commands.values())[-1]
        if command.process.poll() is None:
            return message  # still running (a timeout): its output is not complete
        for name in ("stdout_thread", "stderr_thread"):
            thread = getattr(command, name, None)
            if thread is not None:
                thread.join(timeout=10)
        head = f"Error deploying {self.flow_file} to {self.TYPE}."
        return f"{head}\n{make_process_error_message(command)}"


_addl_stubgen_modules = ["metaflow_dagster.deployer_objects"]
