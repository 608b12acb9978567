"""Dagster's private names stay in one module (runtime/dagster_adapter.py), and the
versions it supports are checked: on the installed pair, and on versions outside."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import warnings
from pathlib import Path

import dagster
import pytest
from conftest import copy_flow, create
from metaflow_dagster.runtime.dagster_adapter import (
    _MISSING_PRIVATE,
    SUPPORTED_DAGSTER,
    SUPPORTED_METAFLOW,
    UnsupportedDagsterError,
    UnsupportedVersionWarning,
    check_versions,
    thread_executor_problem,
)
from metaflow_dagster.runtime.executor import _unavailable

REPO = Path(__file__).resolve().parents[1]
ADAPTER = REPO / "python" / "metaflow_dagster" / "runtime" / "dagster_adapter.py"
# Where the package's own Python lives (generated files are checked separately).
SCANNED = ("python", "tests", "scripts", "bench")
# Virtual environments and build output under those directories are not ours.
SKIPPED_PARTS = {"__pycache__", "_compiler", "node_modules", "work"}
# A private module name (`dagster.__version__` is public: `_` then `_`).
PRIVATE = re.compile(r"^dagster\._[a-z]")
# Code held in a string (a script a test runs in a subprocess) importing one.
PRIVATE_IN_CODE = re.compile(r"^\s*(from|import)\s+dagster\._[a-z]", re.MULTILINE)


def _private_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) for every private Dagster import, and every string naming a
    private Dagster module (as `importlib.import_module` or `__import__` takes it) or
    holding code that imports one."""
    uses = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if PRIVATE.match(alias.name):
                    uses.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and PRIVATE.match(node.module or ""):
                uses.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if PRIVATE.match(node.value) or PRIVATE_IN_CODE.search(node.value):
                uses.append((node.lineno, repr(node.value[:80])))
    return uses


def _python_files() -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            parts = set(path.relative_to(REPO).parts)
            if parts & SKIPPED_PARTS or any(p.startswith(".venv") for p in parts):
                continue
            files.append(path)
    return files


def test_no_private_dagster_name_outside_the_adapter() -> None:
    files = [p for p in _python_files() if p != ADAPTER]
    assert len(files) > 50  # the scan found the package, its tests and scripts
    found = [
        f"{path.relative_to(REPO)}:{line}: {what}"
        for path in files
        for line, what in _private_uses(path.read_text(encoding="utf-8"))
    ]
    assert not found, "use metaflow_dagster.runtime.dagster_adapter:\n" + "\n".join(
        found
    )


def test_generated_files_name_private_dagster_only_in_the_embedded_adapter() -> None:
    """A generated file embeds the adapter verbatim: its only private names are the
    adapter's strings (which it imports by name), never an import statement."""
    allowed = {what for _, what in _private_uses(ADAPTER.read_text(encoding="utf-8"))}
    assert not any(what.startswith(("import ", "from ")) for what in allowed)
    goldens = sorted((REPO / "test" / "golden").glob("*.py"))
    assert goldens
    found = [
        f"{path.relative_to(REPO)}:{line}: {what}"
        for path in goldens
        for line, what in _private_uses(path.read_text(encoding="utf-8"))
        if what not in allowed
    ]
    assert not found, "\n".join(found)


def test_the_installed_dagster_has_every_private_name() -> None:
    """Run against each supported pair (scripts/test_oldest_pair.sh for the oldest)."""
    assert not _MISSING_PRIVATE
    assert thread_executor_problem() is None


def test_the_installed_versions_are_supported() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_versions({"dagster": "1.13.27", "metaflow": "2.19.39"}) == []


@pytest.mark.parametrize("version", ["1.11.0", "1.12.22", "1.13.99", "1!0+dev"])
def test_supported_and_unreadable_dagster_versions_run_the_thread_executor(
    version: str,
) -> None:
    # An unreadable version (a source checkout) is given the benefit of the doubt.
    assert thread_executor_problem(version) is None


@pytest.mark.parametrize("version", ["1.10.3", "1.14.0", "2.0.0"])
def test_an_unsupported_dagster_stops_only_the_thread_executor(version: str) -> None:
    problem = thread_executor_problem(version)
    assert problem is not None
    assert f"Dagster {version}" in problem
    assert "supports Dagster 1.11 to 1.13" in problem
    assert "dagster>=1.11,<1.14" in problem
    assert "--executor multiprocess" in problem
    # The executor a generated file then gets loads, and accepts any run config; the
    # run stops at its start (creating the executor), saying why.
    definition = _unavailable(problem)
    assert definition.name == "metaflow_threads"
    creation = definition.executor_creation_fn
    assert creation is not None
    with pytest.raises(UnsupportedDagsterError, match=re.escape(problem)):
        creation(None)  # type: ignore[arg-type]


def test_versions_outside_the_range_warn_at_load_naming_both() -> None:
    compiled = {"dagster": "1.13.27", "metaflow": "2.19.39"}
    installed: dict[str, str | None] = {"dagster": "1.14.2", "metaflow": "2.15.0"}
    with pytest.warns(UnsupportedVersionWarning) as caught:
        messages = check_versions(compiled, installed)
    assert [str(w.message) for w in caught] == messages
    dagster_msg, metaflow_msg = messages
    assert "created with dagster 1.13.27" in dagster_msg
    assert "supports dagster 1.11 to 1.13" in dagster_msg
    assert "dagster 1.14.2 is installed" in dagster_msg
    assert "--executor multiprocess" in dagster_msg
    assert "created with metaflow 2.19.39" in metaflow_msg
    assert "supports metaflow 2.16 to 2.19" in metaflow_msg
    assert "metaflow 2.15.0 is installed" in metaflow_msg


def test_an_unknown_metaflow_installation_is_not_warned_about() -> None:
    # Metaflow from a source tree has no distribution metadata to read.
    installed: dict[str, str | None] = {
        "dagster": dagster.__version__,
        "metaflow": None,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_versions({}, installed) == []


def test_the_supported_range_matches_pyproject() -> None:
    """pyproject.toml admits exactly the releases the adapter supports."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def pin(package: str, bounds: tuple[tuple[int, int], ...]) -> str:
        (a, b), (c, d) = bounds[0], bounds[-1]
        return f"{package}>={a}.{b},<{c}.{d + 1}"

    assert pin("dagster", SUPPORTED_DAGSTER) in project["dependencies"]
    assert pin("metaflow", SUPPORTED_METAFLOW) in project["dependencies"]
    webserver = pin("dagster-webserver", SUPPORTED_DAGSTER)
    assert project["optional-dependencies"]["ui"] == [webserver]


def _load_in_a_new_interpreter(defs: Path) -> subprocess.CompletedProcess[str]:
    code = "import runpy, sys; runpy.run_path(sys.argv[1])"
    return subprocess.run(
        [sys.executable, "-c", code, str(defs)],
        cwd=defs.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_generated_file_records_its_versions_and_warns_outside_them(
    flow_dir: Path,
) -> None:
    """The file names the Dagster and Metaflow `create` ran with, and checks the
    installed ones as it loads: silent on this (supported) pair; on a Dagster outside
    the range, a warning naming both. The second case runs the file with its embedded
    range narrowed to exclude the installed Dagster (it cannot install another one)."""
    flow = copy_flow("linear_flow.py", flow_dir)
    create(flow, "defs.py", "--executor", "multiprocess", "--no-fast-launch")
    defs = flow_dir / "defs.py"
    source = defs.read_text()
    installed = {p: importlib.metadata.version(p) for p in ("dagster", "metaflow")}
    call = (
        f'check_versions({{"dagster": "{installed["dagster"]}", '
        f'"metaflow": "{installed["metaflow"]}"}})'
    )
    assert call in source
    loaded = _load_in_a_new_interpreter(defs)
    assert loaded.returncode == 0, loaded.stderr
    assert "UnsupportedVersionWarning" not in loaded.stderr

    supported = f"SUPPORTED_DAGSTER = {SUPPORTED_DAGSTER!r}"
    assert source.count(supported) == 1
    defs.write_text(source.replace(supported, "SUPPORTED_DAGSTER = ((1, 0), (1, 1))"))
    loaded = _load_in_a_new_interpreter(defs)
    assert loaded.returncode == 0, loaded.stderr
    assert "UnsupportedVersionWarning" in loaded.stderr
    assert f"created with dagster {installed['dagster']}" in loaded.stderr
    assert "supports dagster 1.0 to 1.1" in loaded.stderr
