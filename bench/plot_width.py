"""Per-task cost against foreach width (issue #18), from one or more bench results.

    bench/.venv-tools/bin/python bench/plot_width.py OUT_DIR RESULTS.json [...]

Takes every `foreach<N>` flow of the given results.json files (e.g. one invocation
at widths 100 and 1,000 and one at 10,000, on the same machine), and writes
OUT_DIR/width.md (wall and CPU ms per task, peak RSS, Dagster run storage, per width
and runner, with the invocation each row came from) and OUT_DIR/width.png (ms per task
against width, log scale). Refuses results from different CPU models or core counts:
per-task cost is one machine's.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RUNNERS = ("native", "ours")
COLORS = {"native": "#3182bd", "ours": "#a63603"}


def rows(paths: list[Path]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    found, machine = [], None
    for path in paths:
        results = json.loads(path.read_text())
        m = results["machine"]
        here = (m["cpu_model"], m.get("cores_allowed", m["cores"]))
        if machine is not None and here != (machine["cpu_model"], machine["cores"]):
            raise SystemExit(f"{path}: measured on {here}, not {machine}")
        machine = {"cpu_model": here[0], "cores": here[1]}
        tasks = {}
        for run in results["runs"]:
            if run["status"] == "ok" and "verify" in run:
                tasks[run["flow"]] = run["verify"]["tasks"]
        for row in results["summary"]:
            width = re.fullmatch(r"foreach(\d+)", row["flow"])
            if width is None or row["runner"] not in RUNNERS or row["ok"] == 0:
                continue
            n = tasks[row["flow"]]
            found.append(
                {
                    "width": int(width.group(1)),
                    "runner": row["runner"],
                    "tasks": n,
                    "wall_ms": 1000 * row["wall_s"] / n,
                    "cpu_ms": 1000 * row["cpu_s"] / n,
                    "root_ms": 1000 * row["root_cpu_s"] / n,
                    "rss_mb": row["peak_rss_mb"],
                    "storage_mb": row.get("storage_mb"),
                    "wall_s": row["wall_s"],
                    "source": str(path.parent),
                }
            )
    if machine is None:
        raise SystemExit("no results given")
    found.sort(key=lambda r: (r["width"], r["runner"]))
    return found, machine


def table(found: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    lines = [
        "# Per-task cost against foreach width (bench/plot_width.py)",
        "",
        f"Machine: {machine['cpu_model']}, {machine['cores']} cores. A foreach of N "
        "one-step bodies (N + 3 tasks), native `--max-workers 4` and ours at 4 ops at "
        "once; each row from the invocation named.",
        "",
        "| width | runner | wall s | wall ms/task | CPU ms/task | root CPU ms/task | "
        "peak RSS MiB | run storage MiB | ours ÷ native wall | from |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    native = {r["width"]: r["wall_s"] for r in found if r["runner"] == "native"}
    for r in found:
        ratio = (
            f"{r['wall_s'] / native[r['width']]:.2f}"
            if r["runner"] == "ours" and r["width"] in native
            else "—"
        )
        storage = "—" if r["storage_mb"] is None else f"{r['storage_mb']:.1f}"
        lines.append(
            f"| {r['width']:,} | {r['runner']} | {r['wall_s']:.1f} "
            f"| {r['wall_ms']:.0f} | {r['cpu_ms']:.0f} | {r['root_ms']:.0f} "
            f"| {r['rss_mb']:.0f} | {storage} "
            f"| {ratio} | {r['source']} |"
        )
    return "\n".join(lines) + "\n\n![per-task cost against width](width.png)\n"


def plot(found: list[dict[str, Any]], machine: dict[str, Any], dst: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for runner in RUNNERS:
        mine = [r for r in found if r["runner"] == runner]
        if not mine:
            continue
        widths = [r["width"] for r in mine]
        for key, style in (("wall_ms", "-o"), ("cpu_ms", "--s")):
            label = f"{runner}, {'wall' if key == 'wall_ms' else 'CPU'} ms per task"
            ys = [r[key] for r in mine]
            ax.plot(widths, ys, style, color=COLORS[runner], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("foreach width (log)")
    ax.set_ylabel("ms per task")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.set_title(
        f"Cost per task against width: {machine['cpu_model']}, {machine['cores']} cores"
    )
    fig.savefig(dst, dpi=100)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    found, machine = rows([Path(p) for p in argv[1:]])
    out.mkdir(parents=True, exist_ok=True)
    (out / "width.md").write_text(table(found, machine))
    plot(found, machine, out / "width.png")
    print(table(found, machine))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
