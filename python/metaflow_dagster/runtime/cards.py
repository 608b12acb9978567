"""A task's @card reports, as op metadata that says where to open them."""

import os
import pathlib
import shlex
import urllib.parse
from typing import Any

from dagster import MetadataValue, OpExecutionContext

from .datastore import datastore_root, nearest_local_dir
from .model import FlowInfo, TaskResult

# Where Metaflow's card viewer (`python flow.py card server`, port 8324 by default)
# answers; the op links each card there, which opens in one click from Dagster's UI,
# where a file:// link does not (browsers refuse those from an http page). Read when
# the op runs, so one file serves every deployment.
CARD_SERVER_VARIABLE = "METAFLOW_DAGSTER_CARD_SERVER"
CARD_SERVER_PORT = 8324
CARD_SERVER_DEFAULT = f"http://localhost:{CARD_SERVER_PORT}"

# ---------------------------------------------------------------------------------
# Cards: Metaflow renders a task's cards before the task exits (its @card decorators'
# final render runs synchronously in `task_finished`, after waiting for any runtime
# render still going), so the op lists them as soon as the task has succeeded.


def _card_metadata(
    context: OpExecutionContext, flow: FlowInfo, result: TaskResult, step: str
) -> dict[str, Any]:
    """Where the task's cards are, for a step with @card; {} for any other step.

    Never fails the op: a card that cannot be listed is only worth a warning.
    """
    info = flow.steps.get(step)
    if info is None or not info.cards:
        return {}
    pathspec = f"{flow.name}/{result.input_path}"
    try:
        cards = _list_cards(flow, pathspec)
        if not cards:
            context.log.warning(
                f"Step {step!r} has @card but task {pathspec} stored no card (a "
                "card is rendered only when its task succeeds; see the task's stderr)."
            )
            return {}
        return _describe_cards(flow, result, cards)
    except Exception as exc:  # noqa: BLE001 (any datastore's or card module's errors)
        context.log.warning(
            f"Could not list the cards of task {pathspec}: {type(exc).__name__}: {exc}"
        )
        return {}


def _card_root(flow: FlowInfo) -> str | None:
    """The card datastore's root, as Metaflow's `card` commands resolve it in a task.

    Tasks run in the flow's directory, so a local root is found from there upwards, as
    Metaflow does from its working directory (METAFLOW_CARD_LOCALROOT wins).
    """
    from metaflow.metaflow_config import (
        CARD_LOCALROOT,
        CARD_SUFFIX,
        DATASTORE_LOCAL_DIR,
    )
    from metaflow.plugins.cards.card_datastore import CardDatastore

    if flow.datastore != "local":
        return CardDatastore.get_storage_root(flow.datastore)
    if CARD_LOCALROOT:
        return CARD_LOCALROOT
    local_dir = nearest_local_dir(os.path.realpath(flow.flow_dir))
    if local_dir is None:
        local_dir = os.path.realpath(os.path.join(flow.flow_dir, DATASTORE_LOCAL_DIR))
    return os.path.join(local_dir, CARD_SUFFIX)


def _list_cards(flow: FlowInfo, pathspec: str) -> list[tuple[Any, str]]:
    """(CardInfo, full location) of each card of the task, sorted by type, id, hash."""
    from metaflow.datastore import FlowDataStore
    from metaflow.plugins import DATASTORES
    from metaflow.plugins.cards.card_datastore import CardDatastore
    from metaflow.plugins.cards.exception import CardNotPresentException

    impl = next(d for d in DATASTORES if d.TYPE == flow.datastore)
    root = _card_root(flow)
    if root is None:
        # No card root configured: the card commands keep the flow's datastore root.
        root = datastore_root(flow)
        if root is None:
            root = impl.get_datastore_root_from_config(lambda *a, **k: None)
    store = CardDatastore(
        FlowDataStore(flow.name, None, storage_impl=impl, ds_root=root),
        pathspec=pathspec,
    )
    try:
        paths = store.extract_card_paths()
    except CardNotPresentException:
        return []
    cards = [
        (store.info_from_path(path), store.create_full_path(path)) for path in paths
    ]
    return sorted(cards, key=lambda c: (c[0].type, c[0].id or "", c[0].hash))


def _describe_cards(
    flow: FlowInfo, result: TaskResult, cards: list[tuple[Any, str]]
) -> dict[str, Any]:
    """Per card: its location (and a file:// link when local), its address on the card
    server; then the commands."""
    metadata: dict[str, Any] = {}
    server = os.environ.get(CARD_SERVER_VARIABLE) or CARD_SERVER_DEFAULT
    # Only what selects the metadata provider and the datastore: the card commands
    # read the task with the client, then its cards from the card datastore.
    selectors = [
        arg
        for arg in flow.top_level_args
        if arg.startswith(("--metadata=", "--datastore="))
    ]
    if flow.datastore != "local" and flow.datastore_root is not None:
        selectors.append("--datastore-root=" + flow.datastore_root)
    base = ["python", os.path.basename(flow.flow_path), *selectors, "card"]
    # A local card root is found from the working directory, as in the task. The
    # server behind the `served` links comes first.
    port = urllib.parse.urlsplit(server).port
    serve = [*base, "server"]
    if port is not None and port != CARD_SERVER_PORT:
        serve += ["--port", str(port)]
    commands = [shlex.join(["cd", flow.flow_dir]), shlex.join(serve)]
    ids = [info.id for info, _ in cards]
    types = [info.type for info, _ in cards]
    labels = [info.id or info.type for info, _ in cards]
    for info, location in cards:
        label = info.id or info.type
        if labels.count(label) > 1:
            label += " " + info.hash[:5]
        key = "card" if len(cards) == 1 else f"card {label}"
        if flow.datastore == "local":
            location = os.path.abspath(location)
            metadata[key] = MetadataValue.path(location)
            metadata[f"{key} link"] = MetadataValue.url(pathlib.Path(location).as_uri())
        else:
            metadata[key] = MetadataValue.path(location)
        # The card server's route for one card: /card/<flow>/<run>/<step>/<task>/<hash>,
        # read straight from the card datastore (no client, any run).
        metadata[f"{key} served"] = MetadataValue.url(
            f"{server.rstrip('/')}/card/{flow.name}/{result.input_path}/{info.hash}"
        )
        # What `card view` / `card get` need to pick this card out of the task's.
        choose: list[str] = []
        if len(cards) > 1:
            if info.id is not None and ids.count(info.id) == 1:
                choose = ["--id", info.id]
            elif types.count(info.type) == 1:
                choose = ["--type", info.type]
            else:
                choose = ["--hash", info.hash]
        task = result.input_path
        commands.append(shlex.join([*base, "view", task, *choose]))
        saved = f"{info.id or info.type}.html"
        commands.append(shlex.join([*base, "get", task, saved, *choose]))
    title = "open card" if len(cards) == 1 else "open cards"
    metadata[title] = MetadataValue.md("```shell\n" + "\n".join(commands) + "\n```")
    return metadata
