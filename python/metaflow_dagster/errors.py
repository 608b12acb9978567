"""The error `dagster create` refuses a flow with (Metaflow prints its headline)."""

from __future__ import annotations

from metaflow.exception import MetaflowException


class IntrospectionError(MetaflowException):
    headline = "Cannot compile this flow for Dagster"
