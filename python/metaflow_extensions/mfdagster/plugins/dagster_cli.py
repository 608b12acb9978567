# Metaflow loads CLIs relative to this package; the code lives in metaflow_dagster.
from metaflow_dagster.cli import cli

__all__ = ["cli"]
