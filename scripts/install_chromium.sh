#!/usr/bin/env bash
# Install Debian's chromium for the browser test (tests/test_browser.py).
# Idempotent: does nothing when /usr/bin/chromium already exists.
# Playwright's own browser downloads are never used; test/browser/ui.mjs drives this
# chromium through the npm package playwright-core.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo)
fi

"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends chromium fonts-liberation
/usr/bin/chromium --version
