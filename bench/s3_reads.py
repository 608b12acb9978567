"""foreach-N on moto's S3 server: native against the generated job (thread executor),
and against the job as another checkout generates it, in one invocation.

    .venv/bin/python bench/s3_reads.py [--width N] [--reps R] [--before DIR] [--out F]

Every runner gets its own S3 server (one bucket), so the requests each made are counted
from the server's log (by method). `--before DIR`: a checkout of this repository, built
(`npm run build`), whose `python/` replaces this one's on sys.path for `dagster create`,
so its runtime is the one the file embeds. Prints one JSON line per run; with `--out`,
also writes them to F with the machine (its load read before the runs). Wall: from the
command's start to its end (ours: `execute_job` in a new process, as
`tests/conftest.py`'s multiprocess_run, with the job's own executor).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import multiprocess_result, start_multiprocess_run  # noqa: E402
from services import s3_server  # noqa: E402

sys.path.insert(0, str(BENCH))
from machine import machine  # noqa: E402

JOB = "Foreach100Flow"
# Run a flow file with another checkout's package in place of this one's (whose
# editable install is on sys.path: both on it would define Metaflow's extension twice).
_FROM_CHECKOUT = """
import runpy, sys
ours = [p for p in sys.path if p.endswith("/python") and p != sys.argv[1]]
sys.path[:] = [sys.argv[1]] + [p for p in sys.path if p not in ours]
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def requests(log: Path) -> dict[str, int]:
    text = log.read_text()
    return {m: len(re.findall(f'"{m} ', text)) for m in ("GET", "HEAD", "PUT")}


def one(runner: str, width: int, folder: Path, before: Path | None) -> dict[str, Any]:
    folder.mkdir(parents=True)
    source = (BENCH / "flows" / "foreach100.py").read_text()
    flow = folder / "foreach100.py"
    flow.write_text(source.replace("WIDTH = 100", f"WIDTH = {width}"))
    extra: dict[str, str] = {"METAFLOW_USER": os.environ.get("METAFLOW_USER", "bench")}
    create = [sys.executable, flow.name]
    if runner == "before" and before is not None:
        # Only `create` needs the other checkout: the file embeds its runtime.
        checkout = str(before / "python")
        create = [sys.executable, "-c", _FROM_CHECKOUT, checkout, flow.name]
    with s3_server(folder / "s3") as s3:
        env = {**os.environ, **s3, **extra}
        log = folder / "s3" / "moto.log"
        if runner != "native":
            subprocess.run(
                [*create, "dagster", "create", "defs.py", "--max-workers", "4"],
                cwd=folder,
                env=env,
                check=True,
                capture_output=True,
            )
        counted = requests(log)
        start = time.monotonic()
        if runner == "native":
            subprocess.run(
                [sys.executable, flow.name, "run", "--max-workers", "4"],
                cwd=folder,
                env=env,
                check=True,
                capture_output=True,
            )
        else:
            proc = start_multiprocess_run(
                folder / "defs.py", JOB, folder / "home", env={**s3, **extra}
            )
            result = multiprocess_result(proc)
            assert result["success"], result["failures"]
        wall = time.monotonic() - start
        after = requests(log)
    return {
        "runner": runner,
        "width": width,
        "wall_s": round(wall, 2),
        "requests": {k: after[k] - counted[k] for k in after},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--before", type=Path)
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    runners = ["native", "ours"] + (["before"] if opts.before else [])
    rows = []
    host = machine()  # its load before the runs
    with tempfile.TemporaryDirectory(prefix="s3-reads-") as tmp:
        for rep in range(opts.reps):
            for runner in runners:
                folder = Path(tmp) / f"{runner}-{rep}"
                row = one(runner, opts.width, folder, opts.before)
                row["rep"] = rep
                print(json.dumps(row), flush=True)
                rows.append(row)
                shutil.rmtree(folder, ignore_errors=True)
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps({"machine": host, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
