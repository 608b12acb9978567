"""Plot bench/results/results.json as bench/results/ratios.png (needs matplotlib)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {
    "pub-inproc": "#9ecae1",
    "pub-mp": "#3182bd",
    "pub-mp-forkserver": "#08519c",
    "ours": "#a63603",
    "ours-inproc": "#fdae6b",
    "ours-mp": "#e6550d",
    "ours-mp-spawn": "#fd8d3c",
}
# Which published runner each of ours is compared with (as bench.PAIRS).
PAIRS = {
    "ours": "pub-mp",
    "ours-inproc": "pub-inproc",
    "ours-mp": "pub-mp",
    "ours-mp-spawn": "pub-mp",
}


def row_for(rows: list[dict[str, Any]], flow: str, runner: str) -> dict[str, Any]:
    return next(r for r in rows if r["flow"] == flow and r["runner"] == runner)


def grouped(
    ax: Any,
    rows: list[dict[str, Any]],
    flows: list[str],
    series: list[tuple[str, str, str]],
    log: bool,
) -> None:
    """One bar per (runner, key) per flow; a grey note where there is no value."""
    width = 0.8 / max(len(series), 1)
    for i, (runner, key, label) in enumerate(series):
        xs, ys = [], []
        for j, flow in enumerate(flows):
            row = row_for(rows, flow, runner)
            x = j + (i - (len(series) - 1) / 2) * width
            value = row.get(key)
            if value is None:
                note = row["status"] if row["status"] != "ok" else "n/a"
                ax.text(
                    x,
                    1.0,
                    note[:14],
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    color="grey",
                )
                continue
            xs.append(x)
            ys.append(value)
        hatch = "//" if label.startswith("CPU") else None
        bars = ax.bar(xs, ys, width, label=label, color=COLORS.get(runner), hatch=hatch)
        ax.bar_label(bars, labels=[f"{y:.1f}" for y in ys], fontsize=6, padding=1)
    ax.axhline(1.0, color="black", linewidth=0.8)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks(range(len(flows)), flows)
    ax.set_xlim(-0.5, len(flows) - 0.5)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def main(src: str, dst: str) -> None:
    results = json.loads(Path(src).read_text())
    rows = results["summary"]
    flows = list(dict.fromkeys(r["flow"] for r in rows))
    runners = [r for r in results["options"]["runners"] if r != "native"]
    fig, axes = plt.subplots(3, 1, figsize=(12, 12), constrained_layout=True)
    grouped(axes[0], rows, flows, [(r, "ratio_native", r) for r in runners], True)
    axes[0].set_ylabel("wall time / native (log)")
    axes[0].set_title("Wall time relative to `python flow.py run`")
    grouped(axes[1], rows, flows, [(r, "cpu_ratio_native", r) for r in runners], True)
    axes[1].set_ylabel("CPU time / native (log)")
    axes[1].set_title(
        "CPU time (user + system, whole process tree) relative to native: "
        "robust to other load on the machine"
    )
    ours = [r for r in runners if r.startswith("ours-")]
    series = []
    for r in ours:
        pair = PAIRS.get(r, r.replace("ours", "pub"))
        series.append((r, "ratio_pub", f"wall {r} / {pair}"))
        series.append((r, "cpu_ratio_pub", f"CPU {r} / {pair}"))
    grouped(axes[2], rows, flows, series, False)
    axes[2].set_ylabel("ours / published (<1: ours faster)")
    axes[2].set_title("Ours vs the published metaflow-dagster, same executor")
    m = results["machine"]
    fig.suptitle(
        f"{m['cores']} cores, Python {m['python']}, metaflow {m['ours_metaflow']}, "
        f"dagster {m['ours_dagster']}, published metaflow-dagster {m['pub_version']}; "
        f"{results['options']['reps']} repetition(s), medians of per-repetition "
        "ratios",
        fontsize=9,
    )
    fig.savefig(dst, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
