#!/usr/bin/env bash
# Test the oldest Dagster and Metaflow pyproject.toml admits (Dagster 1.11, Metaflow
# 2.16): pyproject's ranges are only true if that pair works, and the thread executor
# (runtime/executor.py) leans on Dagster internals that change between releases.
#
#   bash scripts/test_oldest_pair.sh [pytest options]
#   PAIR=ci/middle-pair bash scripts/test_oldest_pair.sh   # another locked pair
#
# Needs scripts/setup.sh first: it runs .venv's uv (the locked one) and the compiler
# bundle setup built. Creates .venv-oldest (Python 3.11) with exactly the packages
# ci/oldest-pair/requirements.txt locks (uv pip sync: nothing else), adds the checkout's
# python/ to it as .venv's editable install does (the project itself without its
# dependencies, so the lock's Dagster and Metaflow are the ones tested), and runs the
# subset below with one pytest worker. Idempotent: an existing .venv-oldest is synced.
#
# On a 2-core machine shared with other work, the whole script took 6 min 40 s (the
# environment from a warm uv cache: seconds; the main pytest 5 min; the Deployer 1.5 min).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# PAIR: another locked pair to test the same way (e.g. ci/middle-pair), in its own venv.
PAIR="${PAIR:-ci/oldest-pair}"
LOCK="$PAIR/requirements.txt"
VENV=".venv-$(basename "$PAIR")"
[[ "$PAIR" == ci/oldest-pair ]] && VENV=.venv-oldest
UV=.venv/bin/uv

# Metaflow refuses to run as root without a user name; CI runs as root.
export METAFLOW_USER="${METAFLOW_USER:-tester}"

if [[ ! -x "$UV" || ! -f python/metaflow_dagster/_compiler/compiler.mjs ]]; then
  echo "run scripts/setup.sh first (it makes .venv/bin/uv and the compiler bundle)" >&2
  exit 1
fi

run() {
  printf '+ %s\n' "$*"
  "$@"
}

[[ -x "$VENV/bin/python" ]] || run "$UV" venv --python 3.11 "$VENV"
run "$UV" pip sync --compile-bytecode --python "$VENV/bin/python" "$LOCK"
# The project, without its dependencies: what an editable install puts in site-packages.
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '%s\n' "$ROOT/python" >"$SITE/_metaflow_dagster_checkout.pth"
run "$VENV/bin/python" -c 'import dagster, metaflow, metaflow_dagster
print("dagster", dagster.__version__, "| metaflow", metaflow.__version__)'

# The subset: each shape of graph the oldest Metaflow has, and each place the runtime
# meets a Dagster or Metaflow interface that moved between releases. Left out, with
# their reason: switches and loops (Metaflow 2.17 on), custom start/end steps and
# single-step flows (2.19 on), and the retry test whose flow calls self.next() before
# failing (Metaflow 2.16 fails that attempt with its own message, as a native run does).
TESTS=(
  # Private Dagster names all resolve; the version checks; pyproject's ranges.
  tests/test_dagster_adapter.py
  # The fork server's preload list imports on this Dagster.
  tests/test_create.py::test_every_forkserver_preload_module_imports
  # Every graph shape (linear, branch, foreach and nested, parallel) under the thread
  # executor, against `python flow.py run`.
  "tests/test_graph_shapes.py::test_same_tasks_and_artifacts_as_native[linear_flow.py]"
  "tests/test_graph_shapes.py::test_same_tasks_and_artifacts_as_native[branch_flow.py]"
  "tests/test_graph_shapes.py::test_same_tasks_and_artifacts_as_native[foreach_flow.py]"
  "tests/test_graph_shapes.py::test_same_tasks_and_artifacts_as_native[foreach_in_branch_flow.py]"
  "tests/test_graph_shapes.py::test_same_tasks_and_artifacts_as_native[nested_foreach_flow.py]"
  "tests/test_graph_shapes.py::test_same_tasks_and_artifacts_as_native[triple_foreach_flow.py]"
  "tests/test_graph_shapes.py::test_same_tasks_and_artifacts_as_native[parallel_flow.py]"
  tests/test_graph_shapes.py::test_parallel_tasks_run_concurrently
  tests/test_graph_shapes.py::test_triple_foreach_with_split_in_innermost_body
  tests/test_graph_shapes.py::test_nested_foreach_tasks_are_dagster_steps_that_overlap
  # Retry delays and timeouts under each executor: Dagster's retry machinery and the
  # thread executor's handling of the task's process.
  tests/test_decorators.py::test_retry_waits_minutes_between_retries_in_a_real_run
  tests/test_decorators.py::test_timeout_kills_steps_that_block_signals_then_retry_succeeds
  tests/test_decorators.py::test_workflow_timeout_stops_a_running_step
  # @exit_hook: the wrapper around the job's executor, and Metaflow's hook script.
  tests/test_exit_hooks.py
  # Assets (AssetSpec, materializations, the asset graph) and failure messages (the
  # traceback Metaflow prints) on this Dagster and Metaflow.
  tests/test_assets.py
  tests/test_readable.py
  # @trigger_on_finish and @trigger: sensors and run requests on this Dagster.
  tests/test_triggers.py::test_trigger_on_finish
  tests/test_triggers.py::test_event_payload_maps_to_parameters
)
# Metaflow's Deployer API, each test in a pytest process of its own: before 2.19 the
# runner keeps one flow's parameters on its shared click commands for the next flow
# loaded in the same process (a Metaflow bug, fixed by its _cleanup_flow_parameters),
# which these tests, each with its own flow, would trip over.
DEPLOYER_TESTS=(
  tests/test_deployer.py::test_deployer_create_trigger_status_run
  tests/test_deployer.py::test_deployer_from_deployment_trigger_and_terminate
  tests/test_deployer.py::test_deployer_create_writes_the_attributes
  tests/test_deployer.py::test_triggered_run_is_none_until_the_run_records_in_a_new_directory
)

FAILED=0
run "$VENV/bin/pytest" -n 0 -p no:cacheprovider "$@" "${TESTS[@]}" || FAILED=1
for test in "${DEPLOYER_TESTS[@]}"; do
  run "$VENV/bin/pytest" -n 0 -p no:cacheprovider "$@" "$test" || FAILED=1
done
exit "$FAILED"
