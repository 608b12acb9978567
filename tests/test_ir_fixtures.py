"""The committed IR fixtures of the compiler's golden tests match live introspection.

`test/golden/*.ir.json` is what the TypeScript golden tests compile; if the Python
introspection changes, this fails until `python scripts/update_ir_fixtures.py` is run
(and the goldens are regenerated with `UPDATE_GOLDEN=1 npx vitest run`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ir_fixtures_match_introspection() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "update_ir_fixtures.py"), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, (
        "IR fixtures are stale; run `python scripts/update_ir_fixtures.py`, then "
        "`UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts`, and review the diff.\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
