#!/usr/bin/env bash
# Start (and, where needed, install) the services the test suite needs.
#
#   bash scripts/services.sh
#
# scripts/test.sh calls this after scripts/setup.sh and before any test runs, so a CI
# run on a brand-new machine gets every service its tests use. It must be idempotent
# (a service already running is left alone), install what it needs with the machine's
# ordinary package clients (apt-get, pip, npm), and export nothing: tests find a
# service through fixed local addresses or files written under the repository.
#
# Today: Debian's Chromium for the browser test (tests/test_browser.py); Debian's
# PostgreSQL (scripts/postgres.sh, started here: tests create their own databases) and
# Redis (scripts/redis.sh, installed only: tests start their own servers) for the tests
# that run flows on Celery workers and under load (tests/test_cluster.py, test_load.py).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/install_chromium.sh
bash scripts/postgres.sh start >/dev/null
bash scripts/redis.sh >/dev/null
