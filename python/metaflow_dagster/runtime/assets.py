"""The flow in Dagster's asset graph: the specs `defs` declares, and the end op's
materializations.

A flow is one asset (`[project, branch,] Flow`), upstream of one asset per artifact of
its end step (`... Flow, artifact`); @trigger_on_finish's upstream flows are upstream of
it. The assets are declared, not computed by Dagster (Metaflow computes them): the end
op, once Metaflow recorded the end task done, reports a materialization of each, with
what the datastore says of the artifact (type, size) and, for small values, the value.
Only the end op reports, once per run that reaches it: a re-execution from failure
whose end step already ran does not run it again, so nothing is reported twice.
"""

import importlib.util
from typing import Any

from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    MetadataValue,
    OpExecutionContext,
    TableColumn,
    TableSchema,
)

from .datastore import _task_datastore, metaflow_ui_link, user_artifacts
from .model import FlowInfo, TaskResult

# Artifacts this small (pickled) are loaded to show their value inline; larger ones
# never are: an asset's page must not cost a model's download.
INLINE_MAX_BYTES = 4096
INLINE_MAX_CHARS = 200
# Arrays and data frames this small are loaded to show their shape and dtypes (when
# numpy or pandas imports in the run's process); larger ones never are.
SHAPE_MAX_BYTES = 16 * 2**20
SHAPE_MAX_COLUMNS = 100
KIND = "metaflow"


def flow_assets(flow: FlowInfo) -> list[AssetSpec]:
    """The asset specs of the flow and of its end step's artifacts."""
    assets = flow.assets
    if assets is None:
        return []
    flow_key = AssetKey(list(assets.key))
    specs = [
        AssetSpec(
            flow_key,
            description=f"Successful runs of the Metaflow flow {flow.name}: each "
            "materialization is one run whose end step finished.",
            deps=[AssetKey(list(key)) for key in assets.upstream],
            group_name=assets.group,
            kinds={KIND},
        )
    ]
    for name in assets.artifacts:
        specs.append(
            AssetSpec(
                AssetKey([*assets.key, name]),
                description=f"The artifact `{name}` of the Metaflow flow {flow.name}, "
                "as the end step of each successful run holds it.",
                deps=[flow_key],
                group_name=assets.group,
                kinds={KIND},
            )
        )
    return specs


def report_assets(
    context: OpExecutionContext, flow: FlowInfo, result: TaskResult
) -> None:
    """Materialize the flow and each declared artifact the end task holds."""
    assets = flow.assets
    if assets is None:
        return
    run_id = result.input_path.split("/")[0]
    tds = _task_datastore(flow, result, flow.end_step)
    info = tds.ds_metadata["info"]
    pathspec = f"{flow.name}/{result.input_path}"
    where: dict[str, Any] = {
        "metaflow run": MetadataValue.text(f"{flow.name}/{run_id}"),
        "metaflow pathspec": MetadataValue.text(pathspec),
    }
    link = metaflow_ui_link(f"{flow.name}/{run_id}")
    if link is not None:
        where["metaflow ui"] = MetadataValue.url(link)
    held = user_artifacts(info)
    context.log_event(
        AssetMaterialization(
            AssetKey(list(assets.key)),
            description=f"Metaflow run {flow.name}/{run_id} finished.",
            metadata={**where, "artifacts": MetadataValue.json(held)},
        )
    )
    for name in assets.artifacts:
        if name not in info:
            continue  # not set on this run's path (a branch not taken, say)
        metadata = {**where, **_describe(tds, name, info[name], pathspec, result)}
        context.log_event(
            AssetMaterialization(AssetKey([*assets.key, name]), metadata=metadata)
        )


def _describe(
    tds: Any, name: str, info: dict[str, Any], pathspec: str, result: TaskResult
) -> dict[str, Any]:
    size = int(info.get("size") or 0)
    kind = _type_name(str(info.get("type", "")))
    metadata: dict[str, Any] = {
        "type": MetadataValue.text(kind),
        "size (bytes, pickled)": MetadataValue.int(size),
    }
    # Only built-in types (no dot in the name): unpickling another class needs its
    # module, which the run's process may not import.
    if 0 < size <= INLINE_MAX_BYTES and "." not in kind:
        try:
            text = repr(tds[name])
        except Exception:  # noqa: BLE001 (a container of an unimportable class)
            text = None
        if text is not None:
            if len(text) > INLINE_MAX_CHARS:
                text = text[: INLINE_MAX_CHARS - 3] + "..."
            metadata["value"] = MetadataValue.text(text)
    elif 0 < size <= SHAPE_MAX_BYTES and _shaped(kind):
        metadata.update(_shape(tds, name))
    snippet = "from metaflow import Task\n\n"
    snippet += f"Task({pathspec!r}, attempt={result.attempt})[{name!r}].data\n"
    metadata["retrieve"] = MetadataValue.md(f"```python\n{snippet}```")
    return metadata


def _shaped(kind: str) -> bool:
    """A numpy array or a pandas frame or series, whose library this process has."""
    library = kind.split(".")[0]
    if kind != "numpy.ndarray" and not (
        library == "pandas" and kind.endswith(("DataFrame", "Series"))
    ):
        return False
    return importlib.util.find_spec(library) is not None


def _shape(tds: Any, name: str) -> dict[str, Any]:
    """Shape and dtypes, in Dagster's own keys where it has them (a frame's row count
    and column schema show on the asset's page as such)."""
    try:
        value = tds[name]
        shape = tuple(int(n) for n in value.shape)
        metadata: dict[str, Any] = {"shape": MetadataValue.text(str(shape))}
        if hasattr(value, "columns"):  # a DataFrame
            metadata["dagster/row_count"] = MetadataValue.int(shape[0])
            columns = [
                TableColumn(name=str(column), type=str(dtype))
                for column, dtype in list(value.dtypes.items())[:SHAPE_MAX_COLUMNS]
            ]
            metadata["dagster/column_schema"] = MetadataValue.table_schema(
                TableSchema(columns=columns)
            )
        else:
            metadata["dtype"] = MetadataValue.text(str(value.dtype))
        return metadata
    except Exception:  # noqa: BLE001 (metadata only: never fail the end op for it)
        return {}


def _type_name(recorded: str) -> str:
    """`<class 'pandas.core.frame.DataFrame'>` -> `pandas.core.frame.DataFrame`."""
    if recorded.startswith("<class '") and recorded.endswith("'>"):
        return recorded[len("<class '") : -2]
    return recorded
