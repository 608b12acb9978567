"""scripts/bundle_runtime.py: the runtime package split by `ast` into the parts every
generated file embeds (runtime_bundle.json), and those parts bundled as one module
(runtime_bundle.py) that must import and be ruff-clean as a generated file must.

Fast: no Metaflow run. The bundler is a build script, not package code, so it is loaded
from its path.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from metaflow_dagster import runtime

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DIR = ROOT / "python" / "metaflow_dagster" / "runtime"
RUFF = Path(sys.executable).parent / "ruff"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


br = _load(ROOT / "scripts" / "bundle_runtime.py", "bundle_runtime_under_test")


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return br.build_bundle(str(RUNTIME_DIR))


def _ruff(path: Path) -> None:
    config = ["--config", str(ROOT / "pyproject.toml")]
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(RUFF), *command, *config, str(path)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_json_shape(bundle: dict[str, Any]) -> None:
    assert [p["name"] for p in bundle["parts"]] == list(runtime.PARTS)
    assert json.loads(json.dumps(bundle)) == bundle
    assert set(bundle) == {"parts", "names"}
    defined: set[str] = set()
    for part in bundle["parts"]:
        assert set(part) == {"name", "imports", "body", "defines", "requires"}
        for record in part["imports"]:
            assert set(record) == {"module", "name", "alias"}
            # Relative imports are dropped (concatenation makes them moot).
            assert record["module"] and not record["module"].startswith(".")
        assert part["name"] not in part["requires"]
        assert part["requires"] == [p for p in runtime.PARTS if p in part["requires"]]
        assert not defined & set(part["defines"])
        defined |= set(part["defines"])
    bound = {br.bound_name(r) for p in bundle["parts"] for r in p["imports"]}
    assert set(bundle["names"]) == defined | bound
    # Spot checks on what the runtime is known to hold.
    parts = {p["name"]: p for p in bundle["parts"]}
    assert {"FlowInfo", "StepInfo"} <= set(parts["model"]["defines"])
    assert "run_step" in parts["ops"]["defines"]
    assert {"model", "tasks"} <= set(parts["ops"]["requires"])
    assert {"module": "os", "name": None, "alias": None} in parts["model"]["imports"]


def test_bodies_are_the_modules_text_after_their_imports(
    bundle: dict[str, Any],
) -> None:
    for part in bundle["parts"]:
        source = (RUNTIME_DIR / f"{part['name']}.py").read_text(encoding="utf-8")
        body = part["body"]
        assert body and body.endswith("\n") and not body.endswith("\n\n")
        assert source.rstrip().endswith(body.rstrip()), part["name"]
        # What precedes the body is the docstring, imports and comments only.
        head = ast.parse(source[: len(source.rstrip()) - len(body.rstrip())])
        assert all(
            isinstance(s, ast.Import | ast.ImportFrom)
            or (i == 0 and br._is_docstring(s))
            for i, s in enumerate(head.body)
        ), part["name"]
        assert body.splitlines()[0].strip()


def test_outputs_import_and_are_ruff_clean(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    script = ROOT / "scripts" / "bundle_runtime.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True)
    assert json.loads((tmp_path / "runtime_bundle.json").read_text()) == bundle
    bundled = tmp_path / "runtime_bundle.py"
    text = bundled.read_text(encoding="utf-8")
    for part in bundle["parts"]:
        assert part["body"] in text
    module = _load(bundled, "runtime_bundle_under_test")
    missing = [n for n in bundle["names"] if not hasattr(module, n)]
    assert missing == []
    _ruff(bundled)


# ---------------------------------------------------------------------------------
# Small fake runtime packages


def _package(tmp_path: Path, modules: dict[str, str]) -> str:
    folder = tmp_path / "fake_runtime"
    folder.mkdir()
    (folder / "__init__.py").write_text(f'"""Fake."""\n\nPARTS = {tuple(modules)!r}\n')
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source).lstrip())
    return str(folder)


def test_fake_package_parts(tmp_path: Path) -> None:
    folder = _package(
        tmp_path,
        {
            "a": '''
                """Doc."""

                import os
                from typing import Any

                from . import b
                from .b import helper

                __requires__ = ("c",)

                # Kept: a comment about what follows.
                def entry() -> Any:
                    import json  # lazy on purpose: stays in the body

                    return json.dumps(helper(os.sep))
            ''',
            "b": """
                def helper(x: str) -> str:
                    return later(x)
            """,
            "c": """
                def later(x: "str") -> "Later":
                    return Later()


                class Later:
                    field: int = 0
            """,
        },
    )
    bundle = br.build_bundle(folder)
    a, b, c = bundle["parts"]
    assert a["imports"] == [
        {"module": "os", "name": None, "alias": None},
        {"module": "typing", "name": "Any", "alias": None},
    ]
    assert a["body"].startswith("# Kept: a comment")
    assert "import json  # lazy" in a["body"]
    assert a["requires"] == ["b", "c"]  # b: relative import; c: __requires__
    assert "__requires__" not in bundle["names"]
    assert b["requires"] == ["c"]  # a name c defines, used inside a function
    assert c["requires"] == [] and c["defines"] == ["Later", "later"]
    assert bundle["names"] == ["Any", "Later", "entry", "helper", "later", "os"]


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ({"a": "from __future__ import annotations\n"}, "__future__"),
        ({"a": "from os import *\n"}, "star imports"),
        (
            {"a": "def f():\n    pass\n", "b": "f = 1\n"},
            "'a' and 'b' both define 'f'",
        ),
        ({"a": '"""Doc."""\nX = 1\nimport os\n'}, "import after other top-level"),
        ({"a": "import os\nif os.sep:\n    pass\nimport sys\n"}, "import after"),
        (
            {"a": "from os import path\n", "b": "from sys import path\n"},
            "imports 'path'",
        ),
        ({"a": "def os():\n    pass\n", "b": "import os\n"}, "which part 'a' defines"),
        ({"a": "from .missing import x\n"}, "not in PARTS"),
        ({"a": "import os\nX = 1\n__requires__ = ('a',)\n"}, "must follow"),
        ({"a": "__requires__ = ('nope',)\n"}, "names in PARTS"),
        ({"a": "__requires__ = [x for x in 'a']\n"}, "not a literal"),
        ({"a": "def f(:\n"}, "a.py"),
    ],
)
def test_rejects(tmp_path: Path, modules: dict[str, str], message: str) -> None:
    folder = _package(tmp_path, modules)
    with pytest.raises(br.BundleError, match=re.escape(message)):
        br.build_bundle(folder)


def test_rejects_a_bad_parts_list(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("PARTS = tuple(['a'])\n")
    with pytest.raises(br.BundleError, match="not a literal"):
        br.build_bundle(str(folder))
    (folder / "__init__.py").write_text("PARTS = ('a',)\n")
    with pytest.raises(br.BundleError, match="does not exist"):
        br.build_bundle(str(folder))
    (folder / "__init__.py").write_text("OTHER = 1\n")
    with pytest.raises(br.BundleError, match="no top-level"):
        br.build_bundle(str(folder))


def test_cli_reports_an_error(tmp_path: Path) -> None:
    folder = _package(tmp_path, {"a": "from os import *\n"})
    script = ROOT / "scripts" / "bundle_runtime.py"
    done = subprocess.run(
        [sys.executable, str(script), "--runtime", folder, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "bundle_runtime: error:" in done.stderr and "star imports" in done.stderr
    assert not os.path.exists(tmp_path / "runtime_bundle.json")


def test_names_and_imports_of_every_shape(tmp_path: Path) -> None:
    """Top-level bindings of each kind, and imports of each form, rendered as ruff's
    isort wants them (aliases, dotted modules, a block too long for one line)."""
    folder = _package(
        tmp_path,
        {
            "a": """
                import os.path as osp
                import importlib.machinery
                import importlib
                from typing import Any as AnyType, IO, cast
                from collections.abc import (
                    AsyncIterator, Awaitable, Callable, Collection, Container, Hashable,
                )
                import dagster as dg
                from dagster import op

                A, (B, *C) = 1, (2, 3)
                D: int = 4
                registry: dict = {}
                registry["k"] = 1
                if osp.sep:
                    E = 5
                try:
                    F = 6
                except ImportError as exc:
                    G = exc
                for H in range(1):
                    registry[H] = H
                with open(osp.devnull) as J:
                    registry["f"] = J


                def uses() -> AnyType:
                    return (importlib, importlib.machinery, IO, cast, dg, op)


                def more() -> tuple:
                    return (AsyncIterator, Awaitable, Callable, Collection, Container)


                def hashable() -> type:
                    return Hashable
            """,
        },
    )
    bundle = br.build_bundle(folder)
    defines = set(bundle["parts"][0]["defines"])
    # Not `registry["k"] = 1`'s subscript: only names are bound.
    assert defines == set("ABCDEFGHJ") | {"registry", "exc", "uses", "more", "hashable"}
    assert {"osp", "AnyType", "importlib", "dg"} <= set(bundle["names"])
    path = tmp_path / "shapes.py"
    path.write_text(br.render_module(bundle), encoding="utf-8")
    _ruff(path)
