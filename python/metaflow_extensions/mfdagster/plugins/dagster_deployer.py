# Metaflow loads deployer providers relative to this package; the code lives in
# metaflow_dagster.
from metaflow_dagster.deployer import DagsterDeployer

__all__ = ["DagsterDeployer"]
