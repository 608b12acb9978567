# Registration only: Metaflow adds a `dagster` command group to every flow's CLI.
CLIS_DESC = [("dagster", ".dagster_cli.cli")]
