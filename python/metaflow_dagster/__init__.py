"""metaflow-dagster: compile Metaflow flows into self-contained Dagster files."""

__version__ = "0.1.0"
