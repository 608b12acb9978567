# Registration only: Metaflow adds a `dagster` command group to every flow's CLI.
CLIS_DESC = [("dagster", ".dagster_cli.cli")]
# Metaflow's Deployer API: `Deployer("flow.py").dagster()`.
DEPLOYER_IMPL_PROVIDERS_DESC = [("dagster", ".dagster_deployer.DagsterDeployer")]


# Metaflow imports this module when it starts, in every process: for `dagster create`,
# start the compiler now so that Node's start overlaps Metaflow's (compiler.prestart).
def _prestart_compiler() -> None:
    import sys

    if "dagster" not in sys.argv[1:]:
        return  # every other command (tasks included) stops here
    try:
        from metaflow_dagster import compiler

        if compiler.wants_compiler(sys.argv):
            compiler.prestart()
    except Exception:  # noqa: BLE001 (an optimisation: create works without it)
        pass


_prestart_compiler()
