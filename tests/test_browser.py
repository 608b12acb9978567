"""A real browser test of the Dagster UI for a generated definitions file.

Compiles examples/ui_demo_flow.py, serves it with `dagster dev` (webserver and daemon,
so a run launched from the UI is dequeued and executed), and drives Debian's chromium
with playwright-core through test/browser/ui.mjs, which checks the job graph, the
launchpad's parameter config, a run launched from the launchpad, its logs, an op's
output metadata and its stdout, the flow's assets in their group's lineage, an
artifact's materialized value, and the end step's @card opened in one click from its
op's metadata (Metaflow's card server, which the test starts as the metadata says),
taking a screenshot of each.

Needs /usr/bin/chromium (scripts/install_chromium.sh) and node_modules (npm ci).
With UPDATE_SCREENSHOTS=1 the screenshots also replace docs/images/*.png.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, copy_flow, create, free_port, task_id

CHROMIUM = Path("/usr/bin/chromium")
UI_SCRIPT = REPO / "test" / "browser" / "ui.mjs"
DOCS_IMAGES = REPO / "docs" / "images"
SCREENSHOTS = (
    "03_job_graph.png",
    "03b_launchpad.png",
    "05_run_complete.png",
    "06_op_metadata.png",
    "07_run_logs.png",
    "07b_step_stdout.png",
    "08_asset_lineage.png",
    "08b_asset_value.png",
    "09_card.png",
)
DEFS = "ui_demo_flow_dagster.py"
SERVER_START_TIMEOUT = 120.0
RUN_TIMEOUT = 180
BROWSER_TIMEOUT = RUN_TIMEOUT + 150
TERM_GRACE = 10.0

# What the UI must show for examples/ui_demo_flow.py.
STEPS = ("start", "count_words", "measure", "collect", "shout", "join", "end")
WORDS = ("hello", "dagster")  # the default `sentence`
SPEC = {
    "location": DEFS,
    "job": "UiDemoFlow",
    "ops": [f"op_{s}" for s in STEPS],
    "params": [
        {
            "name": "repeat",
            "line": "repeat: 2",
            "type": "Int",
            "help": "How many times the greeting is repeated.",
        },
        {
            "name": "sentence",
            "line": "sentence: " + " ".join(WORDS),
            "type": "String",
            "help": "The sentence whose words are measured, one foreach task per word.",
        },
    ],
    # One execution per op, plus one per extra foreach split of op_measure.
    "succeededSteps": len(STEPS) + len(WORDS) - 1,
    "metadataOp": "op_start",
    "metaflowStep": "start",
    "metaflowTask": task_id("start"),
    "artifacts": ["repeat", "sentence", "words"],
    "stdoutText": f"start: {len(WORDS)} words in '{' '.join(WORDS)}'",
    "runTimeoutSeconds": RUN_TIMEOUT,
    # The flow's asset and its end step's artifacts, and a value shown inline.
    "assetGroup": "UiDemoFlow",
    "assetNames": ["UiDemoFlow", "greeting", "lengths"],
    "valueAsset": ["UiDemoFlow", "greeting"],
    "assetValue": "'HELLO HELLO'",
    "cardOp": "op_end",
    "cardText": "HELLO HELLO",
}


def _prerequisites() -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash scripts/install_chromium.sh` "
            "(Debian's chromium; Playwright's own browsers are never downloaded)."
        )
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        pytest.fail("node_modules/playwright-core is missing: run `npm ci`.")
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH; the browser script needs Node.js >= 20.")
    return node


def _tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_for_server(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> float:
    started = time.monotonic()
    deadline = started + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"dagster dev exited with {proc.returncode} before serving:\n"
                + _tail(log)
            )
        try:
            with urllib.request.urlopen(base_url + "/server_info", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(
        f"dagster dev did not serve {base_url}/server_info within "
        f"{SERVER_START_TIMEOUT:.0f}s:\n" + _tail(log)
    )


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies do not count)."""
    proc_fs = Path("/proc")
    if not proc_fs.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc_fs.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole `dagster dev` process group, then SIGKILL what is left.

    `dagster dev` turns SIGTERM into its Ctrl-C shutdown, unless it was started with
    SIGINT ignored (a background job of a non-interactive shell): it copies SIGINT's
    handler to SIGTERM, so then it ignores both. Hence the short grace.
    """
    pgid = proc.pid
    if _group_alive(pgid):
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE
        while time.monotonic() < deadline and _group_alive(pgid):
            proc.poll()  # reap the leader
            time.sleep(0.2)
    if _group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def _run_browser(args: list[str], log: Path) -> subprocess.CompletedProcess[str]:
    """Run the browser script in its own process group (node and its chromium)."""
    proc = subprocess.Popen(
        args,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(
            f"the browser script did not finish within {BROWSER_TIMEOUT}s:\n"
            f"{stdout}\n{stderr}\ndagster dev log (tail):\n{_tail(log)}"
        ) from None
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


@pytest.mark.timeout(BROWSER_TIMEOUT + SERVER_START_TIMEOUT + 60)
def test_dagster_ui_in_a_browser(tmp_path: Path) -> None:
    node = _prerequisites()
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    # A short path: the screenshots show the step commands, and so the README does.
    flow_dir = Path(tempfile.mkdtemp(prefix="ui-demo-"))
    flow = copy_flow("ui_demo_flow.py", flow_dir)
    create(flow, DEFS, env={"METAFLOW_USER": "tester"})
    timings["create"] = time.monotonic() - t0

    home = flow_dir / "dagster_home"
    home.mkdir()
    # `dagster dev` runs the daemon, whose queued run coordinator dequeues the run
    # launched from the UI; the default run launcher executes it.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    card_port = free_port()
    log = tmp_path / "dagster_dev.log"
    dagster = Path(sys.executable).with_name("dagster")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "METAFLOW_USER": "tester",
        "PYTHONUNBUFFERED": "1",
        # Where the ops say Metaflow's card server answers (the README's recipe).
        "METAFLOW_DAGSTER_CARD_SERVER": f"http://127.0.0.1:{card_port}",
    }
    cards = subprocess.Popen(
        [sys.executable, flow.name, "card", "server", "--port", str(card_port)],
        cwd=flow_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(dagster), "dev", "-f", DEFS, "-p", str(port), "-h", "127.0.0.1"],
            cwd=flow_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        timings["dagster_dev_ready"] = _wait_for_server(proc, base_url, log)
        spec = {
            **SPEC,
            "baseUrl": base_url,
            "outDir": str(shots),
            "cardStep": "end",
            "cardTask": task_id("end"),
            "cardServer": f"http://127.0.0.1:{card_port}",
        }
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        t1 = time.monotonic()
        browser = _run_browser([node, str(UI_SCRIPT), str(spec_path)], log)
        timings["browser"] = time.monotonic() - t1
        print(browser.stdout)
        assert browser.returncode == 0, (
            f"the browser check failed (exit {browser.returncode}):\n"
            f"{browser.stderr.strip()}\n\nbrowser script output:\n{browser.stdout}\n"
            f"dagster dev log (tail):\n{_tail(log)}\n"
            f"(flow, datastore and DAGSTER_HOME kept in {flow_dir})"
        )
    finally:
        _stop(proc)
        _stop(cards)
    # Kept for a look when the test failed above.
    shutil.rmtree(flow_dir, ignore_errors=True)
    timings["total"] = time.monotonic() - t0
    print("timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))

    missing = [name for name in SCREENSHOTS if not (shots / name).is_file()]
    assert not missing, f"the browser script took no screenshot {missing}"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for name in SCREENSHOTS:
            shutil.copy(shots / name, DOCS_IMAGES / name)
