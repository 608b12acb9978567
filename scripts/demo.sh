#!/usr/bin/env bash
# The fresh-machine demo: set everything up, compile an example flow into a Dagster
# definitions file, run the job through Dagster and read a result back with Metaflow.
#
#   bash scripts/demo.sh                 # the foreach example
#   bash scripts/demo.sh linear_flow.py  # any flow in examples/ without required parameters
#
# The demo works in a new temporary directory (or $DEMO_DIR if set), which it keeps so
# you can open the job in the Dagster UI afterwards. Exits non-zero if any step fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

EXAMPLE="${1:-foreach_flow.py}"
[[ -f "examples/$EXAMPLE" ]] || {
  echo "error: no example examples/$EXAMPLE" >&2
  exit 2
}
STEM="${EXAMPLE%.py}"
DEFS="${STEM}_dagster.py"

# Metaflow refuses to run as root without a user name.
export METAFLOW_USER="${METAFLOW_USER:-demo}"

say() { printf '\n==> %s\n' "$*"; }
run() {
  printf '+ %s\n' "$*"
  "$@"
}

say "Setup"
bash scripts/setup.sh

PY="$ROOT/.venv/bin/python"
DIR="${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/metaflow-dagster-demo.XXXXXX")}"
mkdir -p "$DIR"
cp "examples/$EXAMPLE" "$DIR/"
cd "$DIR"

say "Compile: python $EXAMPLE dagster create $DEFS (in $DIR)"
run "$PY" "$EXAMPLE" dagster create "$DEFS"

say "Run the job through Dagster (execute_in_process) and read it back with Metaflow"
"$PY" - "$DEFS" <<'PY'
import importlib
import sys

from dagster import JobDefinition
from metaflow import Run, namespace

module = importlib.import_module(sys.argv[1].removesuffix(".py"))
jobs = [v for v in vars(module).values() if isinstance(v, JobDefinition)]
assert len(jobs) == 1, f"expected one job in {sys.argv[1]}, found {len(jobs)}"
job = jobs[0]
print(f"job {job.name}: {len(job.graph.node_defs)} ops")

result = job.execute_in_process()
if not result.success:
    sys.exit(f"the Dagster run {result.run_id} failed")
print(f"Dagster run {result.run_id} succeeded")

# Each op records the Metaflow task it ran (a foreach op, on its first output only);
# the start op's gives the run.
pathspec = None
for event in result.all_events:
    if event.step_key == "op_start" and event.event_type_value == "STEP_OUTPUT":
        metadata = event.event_specific_data.metadata
        if "metaflow pathspec" in metadata:
            pathspec = metadata["metaflow pathspec"].value.rsplit("/", 2)[0]
            break
assert pathspec is not None, "the start op reported no Metaflow pathspec"

namespace(None)
run = Run(pathspec)
assert run.successful, f"Metaflow says {pathspec} did not succeed"
print()
print(f"Metaflow run:  {pathspec}  (successful: {run.successful})")
print(f"steps:         {', '.join(step.id for step in reversed(list(run)))}")
end = run["end"].task
if "squares" in end:
    # The foreach example: check the artifact against what the start step fanned out.
    squares = end["squares"].data
    items = run["start"].task["items"].data
    print(f"end.squares:   {squares}  (from items {items})")
    assert squares == [i * i for i in items], "squares do not match the items"
else:
    # Any other example: every artifact of the end step (`name` is Metaflow's own).
    for artifact in sorted(end, key=lambda a: a.id):
        if not artifact.id.startswith("_") and artifact.id != "name":
            print(f"end.{artifact.id}:".ljust(15) + repr(artifact.data)[:200])
print(f"end stdout:    {end.stdout.strip()!r}")
PY

say "Demo complete"
cat <<EOF
The flow, the generated Dagster file and the Metaflow datastore (.metaflow) are in:
  $DIR
Open the job in the Dagster UI (http://127.0.0.1:3000):
  cd $DIR && $ROOT/.venv/bin/dagster dev -f $DEFS
EOF
