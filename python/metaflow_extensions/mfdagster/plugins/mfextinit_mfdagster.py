# Registration only: Metaflow adds a `dagster` command group to every flow's CLI.
CLIS_DESC = [("dagster", ".dagster_cli.cli")]
# Metaflow's Deployer API: `Deployer("flow.py").dagster()`.
DEPLOYER_IMPL_PROVIDERS_DESC = [("dagster", ".dagster_deployer.DagsterDeployer")]
