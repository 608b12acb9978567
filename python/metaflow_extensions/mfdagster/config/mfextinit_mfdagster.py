# Metaflow merges every public name of this module into metaflow_config: define
# nothing else here.


def get_click_to_python_types():
    # The Runner/Deployer API maps each click option type to a Python type and fails
    # on types it does not know; the `dagster` commands use IntRange
    # (e.g. `create --workflow-timeout`).
    from metaflow._vendor.click.types import IntRange

    return {IntRange: int}
