#!/usr/bin/env bash
# Benchmark native Metaflow vs the published metaflow-dagster vs ours. See bench/README.md.
#
#   bash bench/run.sh [options]
#
# Options handled here:
#   --refresh-published   recreate bench/.venv-published (picks up a newer PyPI release)
#   --no-profile          skip the per-task overhead profile (bench/results/profile.md)
#   --no-plot             skip bench/results/ratios.png
# Everything else goes to bench/bench.py:
#   --quick               1 repetition, small flows only (linear10, branch8, switchloop20)
#   --reps N              repetitions (default 3)
#   --flows a,b           subset of: linear10 branch8 switchloop20 foreach100 nested10x10
#                         foreach1000
#   --runners a,b         subset of: native pub-inproc pub-mp ours ours-inproc ours-mp, plus
#                         the optional ours-mp-spawn pub-mp-forkserver
#   --workers N           native --max-workers and Dagster max_concurrent (default 2 x cores)
#   --timeout S           per-run limit in seconds (default 1800); a run past it is a failure
#   --no-bytecode-cache   let every process compile metaflow/dagster from source
#   --no-warmup           skip the unmeasured warm-up round
#   --keep-work           keep the run directories under bench/work/
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH")"
cd "$REPO"

refresh=0
profile=1
plot=1
args=()
out="$BENCH/results"
prev=""
for arg in "$@"; do
  if [ "$prev" = "--out" ]; then out="$arg"; fi
  prev="$arg"
  case "$arg" in
    --refresh-published) refresh=1 ;;
    --no-profile) profile=0 ;;
    --no-plot) plot=0 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done

command -v uv >/dev/null || { echo "bench: uv is required" >&2; exit 1; }

# Ours: the project's own environment and compiler bundle.
if [ ! -x .venv/bin/python ]; then
  echo "bench: creating the project's .venv (uv sync --frozen)"
  uv sync --frozen
fi
if [ ! -f python/metaflow_dagster/_compiler/compiler.mjs ]; then
  echo "bench: the compiler bundle is missing; run 'npm ci && npm run build' first" >&2
  exit 1
fi

# The published package, in its own venv.
PUB="$BENCH/.venv-published"
if [ "$refresh" = 1 ]; then rm -rf "$PUB"; fi
if ! "$PUB/bin/python" -c "import metaflow_extensions.dagster" >/dev/null 2>&1; then
  echo "bench: creating $PUB with the published metaflow-dagster from PyPI"
  rm -rf "$PUB"
  uv venv -q --python 3.11 "$PUB"
  uv pip install -q --python "$PUB/bin/python" \
    metaflow-dagster metaflow==2.19.39 dagster==1.13.27 dagster-webserver==1.13.27
fi

# Tools for the harness and the plot (never part of the project's dependencies).
TOOLS="$BENCH/.venv-tools"
if ! "$TOOLS/bin/python" -c "import matplotlib" >/dev/null 2>&1; then
  echo "bench: creating $TOOLS (matplotlib for the plot)"
  rm -rf "$TOOLS"
  uv venv -q --python 3.11 "$TOOLS"
  uv pip install -q --python "$TOOLS/bin/python" matplotlib
fi

echo "bench: published metaflow-dagster $("$PUB/bin/python" -c \
  'from importlib.metadata import version; print(version("metaflow-dagster"))')"

"$TOOLS/bin/python" "$BENCH/bench.py" "${args[@]+"${args[@]}"}"

if [ "$plot" = 1 ]; then
  "$TOOLS/bin/python" "$BENCH/plot.py" "$out/results.json" "$out/ratios.png"
  echo "bench: wrote $out/ratios.png"
fi

if [ "$profile" = 1 ]; then
  echo "bench: profiling our per-task overhead"
  nb=()
  for arg in "${args[@]+"${args[@]}"}"; do
    if [ "$arg" = "--no-bytecode-cache" ]; then nb+=("$arg"); fi
  done
  mkdir -p "$BENCH/results/raw"
  .venv/bin/python "$BENCH/profile_task.py" "${nb[@]+"${nb[@]}"}" \
    > "$BENCH/results/raw/profile.log" 2>&1 || {
    echo "bench: the profile failed; see bench/results/raw/profile.log" >&2
    exit 1
  }
  echo "bench: wrote $BENCH/results/profile.md"
fi
