"""@card: the op of a step with cards says, in its metadata, where each card is and
how to open it; a step without @card says nothing about cards."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    compile_flow,
    copy_flow,
    create,
    free_port,
    load_module,
    run_cli,
    run_pathspec,
    task_id,
)
from dagster import DagsterInstance

CARD_KEYS = re.compile(r"^(card|open card)")


def output_metadata(result: Any, op: str) -> dict[str, Any]:
    """The output metadata of an op's (only) execution, as Dagster recorded it."""
    for event in result.all_events:
        if event.step_key == op and event.event_type_value == "STEP_OUTPUT":
            return dict(event.event_specific_data.metadata)
    raise AssertionError(f"no output metadata for {op}")


def card_entries(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if CARD_KEYS.match(k)}


def markdown_in_card(html: str) -> list[str]:
    """The Markdown sources a card page holds (its components are embedded as
    base64-encoded JSON in `__MF_DATA__[...] = "..."`)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "markdown":
                found.append(str(node.get("source")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for payload in re.findall(r'__MF_DATA__\["[^"]+"\] = "([A-Za-z0-9+/=]+)"', html):
        walk(json.loads(base64.b64decode(payload)))
    return found


def shown_commands(metadata: dict[str, Any], key: str) -> tuple[Path, list[list[str]]]:
    """The commands an `open card(s)` entry shows: its `cd` directory and the rest."""
    text = metadata[key].value
    assert text.startswith("```shell\n") and text.endswith("\n```"), text
    first, *rest = text[len("```shell\n") : -len("\n```")].splitlines()
    cd, folder = shlex.split(first)
    assert cd == "cd"
    return Path(folder), [shlex.split(line) for line in rest]


def run_shown(folder: Path, command: list[str]) -> None:
    assert command[0] == "python"
    run_cli(command[1:], cwd=folder)


def test_card_locations_in_op_metadata(flow_dir: Path) -> None:
    flow, module = compile_flow("card_flow.py", flow_dir)
    assert module.FLOW.steps["report"].cards
    instance = DagsterInstance.ephemeral()
    result = module.CardFlow.execute_in_process(instance=instance)
    assert result.success
    run_id = run_pathspec(result).split("/")[1]

    # Two cards: one entry (and one link) each, named after the card's id or type.
    report = output_metadata(result, "op_report")
    cards = card_entries(report)
    assert set(cards) == {
        "card default",
        "card default link",
        "card default served",
        "card x",
        "card x link",
        "card x served",
        "open cards",
    }, cards
    task_dir = f"/CardFlow/runs/{run_id}/steps/report/tasks/{task_id('report')}/cards/"
    x = Path(cards["card x"].path)
    assert x.is_absolute() and x.is_file(), x
    assert task_dir in str(x) and re.fullmatch(r"blank-x-[0-9a-f]{32}\.html", x.name)
    assert cards["card x link"].url == x.as_uri()
    assert any("hello card" in source for source in markdown_in_card(x.read_text()))
    default = Path(cards["card default"].path)
    assert default.is_file() and task_dir in str(default)
    assert re.fullmatch(r"default-[0-9a-f]{32}\.html", default.name)
    assert cards["card default link"].url == default.as_uri()

    # The commands shown are ready to copy: `card get` writes the very same card.
    folder, commands = shown_commands(cards, "open cards")
    assert folder == flow_dir
    task = f"{run_id}/report/{task_id('report')}"
    base = ["python", flow.name, "--metadata=local", "--datastore=local", "card"]
    assert commands == [  # the server, then by card type: blank, then default
        [*base, "server"],
        [*base, "view", task, "--id", "x"],
        [*base, "get", task, "x.html", "--id", "x"],
        [*base, "view", task, "--type", "default"],
        [*base, "get", task, "default.html", "--type", "default"],
    ]
    assert cards["card x served"].url == (
        f"http://localhost:8324/card/CardFlow/{task}/{x.name[-37:-5]}"
    )
    run_shown(folder, commands[2])
    assert (folder / "x.html").read_text() == x.read_text()

    # One card: plain `card` keys, and the commands need no selector.
    start = card_entries(output_metadata(result, "op_start"))
    assert set(start) == {"card", "card link", "card served", "open card"}, start
    assert Path(start["card"].path).is_file()
    _, commands = shown_commands(start, "open card")
    assert commands[1][-2:] == ["view", f"{run_id}/start/{task_id('start')}"]

    # Cards that cannot be listed: a warning, no card metadata, and the op succeeds.
    stray = output_metadata(result, "op_stray")
    assert "metaflow pathspec" in stray
    assert card_entries(stray) == {}
    warnings = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.step_key == "op_stray" and entry.level == logging.WARNING
    ]
    assert any(
        m.startswith(
            "Could not list the cards of task "
            f"CardFlow/{run_id}/stray/{task_id('stray')}: "
        )
        for m in warnings
    ), warnings

    # No @card, no card metadata (and no looking for cards).
    end = output_metadata(result, "op_end")
    assert "metaflow pathspec" in end
    assert card_entries(end) == {}
    assert not module.FLOW.steps["end"].cards


def test_cards_attached_at_deploy_time(flow_dir: Path) -> None:
    """`--with card` at create time gives every step a default card."""
    flow = copy_flow("linear_flow.py", flow_dir)
    create(flow, "defs.py", top=("--with", "card"))
    module = load_module(flow_dir / "defs.py")
    result = module.LinearFlow.execute_in_process()
    assert result.success
    for op in ("op_start", "op_end"):
        cards = card_entries(output_metadata(result, op))
        assert set(cards) == {"card", "card link", "card served", "open card"}, (
            op,
            cards,
        )
        path = Path(cards["card"].path)
        assert path.is_file() and path.name.startswith("default-"), path


def test_cards_open_in_one_click_from_metaflow_s_card_server(
    flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each card's `served` link, opened while the server the op's commands start is
    up, answers with the very card the task stored (a browser refuses file:// links
    from Dagster's http pages; these it follows)."""
    port = free_port()
    monkeypatch.setenv("METAFLOW_DAGSTER_CARD_SERVER", f"http://127.0.0.1:{port}")
    _, module = compile_flow("card_flow.py", flow_dir)
    result = module.CardFlow.execute_in_process(instance=DagsterInstance.ephemeral())
    assert result.success
    cards = card_entries(output_metadata(result, "op_report"))
    folder, commands = shown_commands(cards, "open cards")
    server = commands[0]
    assert server[-3:] == ["server", "--port", str(port)], server
    proc = subprocess.Popen(
        [sys.executable, *server[1:]],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        for label in ("x", "default"):
            url = cards[f"card {label} served"].url
            assert url.startswith(f"http://127.0.0.1:{port}/card/CardFlow/"), url
            served = fetch(url, proc)
            assert served == Path(cards[f"card {label}"].path).read_text(), label
        assert "hello card" in " ".join(
            markdown_in_card(fetch(cards["card x served"].url, proc))
        )
    finally:
        # SIGKILL: the server may have SIGTERM ignored (inherited from an xdist worker).
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def fetch(url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> str:
    """GET `url` once the server answers (it imports Metaflow first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.read().decode("utf-8")
        except (ConnectionError, urllib.error.URLError):
            if server.poll() is not None:
                assert server.stderr is not None
                raise AssertionError(server.stderr.read().decode()) from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
