"""Regenerate the compiler's golden IR fixtures from the example flows.

For every `examples/<stem>.py`, run the real Metaflow introspection
(`python <stem>.py dagster create <stem>_dagster.py --ir-only`) on a copy of the flow
in a temporary directory, normalise the machine-specific parts of the IR and write
`test/golden/<stem>.ir.json`. The TypeScript golden tests compile these fixtures.

    python scripts/update_ir_fixtures.py           # rewrite the fixtures
    python scripts/update_ir_fixtures.py --check   # exit 1 if any fixture is stale
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
GOLDEN = REPO / "test" / "golden"

# Settings that would leak the caller's machine into the IR.
_SCRUBBED_ENV = (
    "METAFLOW_DEFAULT_METADATA",
    "METAFLOW_DEFAULT_DATASTORE",
    "METAFLOW_DATASTORE_SYSROOT_LOCAL",
    "METAFLOW_PROFILE",
    "METAFLOW_DEFAULT_ENVIRONMENT",
    "METAFLOW_DEFAULT_EVENT_LOGGER",
    "METAFLOW_DEFAULT_MONITOR",
)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["METAFLOW_USER"] = "golden"
    # No ~/.metaflowconfig of whoever runs this: an empty Metaflow home.
    env["METAFLOW_HOME"] = str(home)
    return env


# `create` options of a fixture, where it shows more than the defaults: one golden is
# generated for Dagster's multiprocess executor (the others use the thread executor).
EXTRA_OPTIONS = {"nested_foreach_flow": ("--executor", "multiprocess")}


def introspect(flow: Path) -> dict[str, Any]:
    """The normalised IR of one example flow, from a fresh Metaflow process."""
    stem = flow.stem
    output = f"{stem}_dagster.py"
    options = list(EXTRA_OPTIONS.get(stem, ()))
    with tempfile.TemporaryDirectory(prefix=f"irfix-{stem}-") as tmp:
        folder = Path(tmp) / "flow"
        home = Path(tmp) / "home"
        folder.mkdir()
        home.mkdir()
        shutil.copy(flow, folder / flow.name)
        proc = subprocess.run(
            [sys.executable, flow.name, "dagster", "create", output, "--ir-only"]
            + options,
            cwd=folder,
            env=_env(home),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"introspecting {flow.name} failed (exit {proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        ir: dict[str, Any] = json.loads((folder / output).read_text(encoding="utf-8"))
    ir["deploy"]["outputFile"] = output
    ir["deploy"]["regenerate"] = [
        "python",
        flow.name,
        "dagster",
        "create",
        output,
        *options,
    ]
    return ir


def render(ir: dict[str, Any]) -> str:
    return json.dumps(ir, indent=2, sort_keys=True) + "\n"


def fixtures() -> dict[Path, str]:
    """Fixture path -> the text introspection produces now, for every example."""
    flows = sorted(EXAMPLES.glob("*.py"))
    if not flows:
        raise RuntimeError(f"no example flows in {EXAMPLES}")
    # One Metaflow process per flow; two at a time halves the wait on small machines.
    with ThreadPoolExecutor(max_workers=2) as pool:
        irs = list(pool.map(introspect, flows))
    return {
        GOLDEN / f"{flow.stem}.ir.json": render(ir)
        for flow, ir in zip(flows, irs, strict=True)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing fixtures that differ from introspection",
    )
    args = parser.parse_args(argv)
    wanted = fixtures()
    if args.check:
        stale = [
            path
            for path, text in wanted.items()
            if not path.exists() or path.read_text(encoding="utf-8") != text
        ]
        known = set(wanted)
        extra = sorted(p for p in GOLDEN.glob("*.ir.json") if p not in known)
        for path in stale:
            print(f"stale: {path.relative_to(REPO)}")
        for path in extra:
            print(f"no example flow for: {path.relative_to(REPO)}")
        if stale or extra:
            print("run `python scripts/update_ir_fixtures.py` and review the diff")
            return 1
        print(f"{len(wanted)} IR fixtures up to date")
        return 0
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
