"""A Metaflow flow as a Dagster component: declared in a `dg` project's YAML, compiled
when the definitions load.

    # src/my_project/defs/my_flow/defs.yaml (`dg scaffold defs
    #   metaflow_dagster.component.MetaflowFlow my_flow` writes it)
    type: metaflow_dagster.component.MetaflowFlow
    attributes:
      flow: my_flow.py            # relative to this file
      name: my_flow_job           # any `dagster create` option, by name:
      decorators: ["retry"]       # --with, each
      tags: ["team:ml"]           # --tag, each
      executor: threads
      options: ["--max-workers", "8"]

The component runs `python <flow> dagster create` (the same command, the same file) into
`.metaflow-dagster/<key>.py` beside the YAML, and loads that file's `defs`: the job,
its schedule, sensors and assets, as `dagster create` writes them. The key is a digest
of everything the compile reads: the flow's directory (every file, by content; large
ones by size and time), the options, the versions of metaflow-dagster, Metaflow and
Dagster, Metaflow's environment variables and its config files. A changed input is a new
key, so a stale compile is never loaded; an unchanged one loads without compiling.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from . import __version__
from .introspect import _version

CACHE_DIR = ".metaflow-dagster"
# Files of the flow's directory larger than this are keyed by size and time, not read.
HASHED_FILE_BYTES = 4 * 1024 * 1024
# Directories never part of a flow's code: caches, environments, Metaflow's datastore.
SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages"}


class MetaflowFlowScaffolder(dg.Scaffolder):
    """`dg scaffold defs metaflow_dagster.component.MetaflowFlow <path>`: a defs.yaml
    naming a flow file beside it, to be filled in."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, {"flow": "my_flow.py"})


@dg.scaffold_with(MetaflowFlowScaffolder)
class MetaflowFlow(dg.Component, dg.Model, dg.Resolvable):
    """A Metaflow flow as a Dagster job: one op per step, with the schedule, sensors and
    assets `python <flow> dagster create` writes, compiled when definitions load."""

    flow: str = Field(description="The flow's file, relative to this YAML file.")
    name: str | None = Field(default=None, description="Dagster job name (--name).")
    decorators: list[str] = Field(
        default_factory=list,
        description="Decorators added to every step, each as `--with` takes it.",
    )
    tags: list[str] = Field(
        default_factory=list, description="Metaflow tags of every run (--tag)."
    )
    executor: Literal["threads", "multiprocess", "celery", "k8s"] | None = Field(
        default=None, description="How runs execute their ops (--executor)."
    )
    options: list[str] = Field(
        default_factory=list,
        description="Any other `dagster create` options, as on its command line.",
    )

    def create_options(self) -> list[str]:
        args: list[str] = []
        if self.name is not None:
            args += ["--name", self.name]
        for spec in self.decorators:
            args += ["--with", spec]
        for tag in self.tags:
            args += ["--tag", tag]
        if self.executor is not None:
            args += ["--executor", self.executor]
        return args + list(self.options)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from .launch import load_generated

        here = Path(context.path)
        flow = (here / self.flow).resolve()
        if not flow.is_file():
            raise FileNotFoundError(
                f"{here / 'defs.yaml'}: no flow file {self.flow!r} at {flow}."
            )
        options = self.create_options()
        out = here / CACHE_DIR / f"{compile_key(flow, options, here / CACHE_DIR)}.py"
        if not out.is_file():
            _compile(flow, out, options)
        return load_generated(str(out)).defs


def _compile(flow: Path, out: Path, options: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    # `create` writes its output atomically: concurrent loads never read half a file.
    args = [sys.executable, str(flow), "dagster", "create", str(out), *options]
    proc = subprocess.run(
        args, cwd=flow.parent, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(
            f"`dagster create` of {flow} failed (exit code {proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}"
        )


def compile_key(flow: Path, options: list[str], cache: Path) -> str:
    """A digest of everything `dagster create` of this flow reads."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode()
            digest.update(len(data).to_bytes(8, "little") + data)

    add(__version__, _version("metaflow"), _version("dagster"), sys.executable)
    add(flow.name, json.dumps(options))
    add(json.dumps(sorted(_metaflow_env().items())))
    for path in _config_files():
        add(str(path), path.read_bytes())
    root = flow.parent
    for path in _files(root, skip=cache.resolve()):
        stat = path.stat()
        add(str(path.relative_to(root)))
        if stat.st_size > HASHED_FILE_BYTES:
            add(stat.st_size, stat.st_mtime_ns)
        else:
            add(path.read_bytes())
    return digest.hexdigest()[:24]


def _files(root: Path, skip: Path) -> list[Path]:
    found: list[Path] = []
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in SKIPPED_DIRS
            and (here / d).resolve() != skip
        )
        found += [here / f for f in sorted(files) if not f.startswith(".")]
    return [p for p in found if p.is_file()]


def _metaflow_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("METAFLOW_")}


def _config_files() -> list[Path]:
    """Metaflow's config files (`$METAFLOW_HOME/config*.json`, ~/.metaflowconfig)."""
    home = Path(
        os.environ.get("METAFLOW_HOME", Path.home() / ".metaflowconfig")
    ).expanduser()
    if not home.is_dir():
        return []
    return sorted(p for p in home.glob("config*.json") if p.is_file())
