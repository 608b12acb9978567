"""`python -m metaflow_dagster.launch execute RUN_ID FILE ATTR JOB`: background run."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .background import execute_run_here


def main(argv: Sequence[str]) -> int:
    if len(argv) == 5 and argv[0] == "execute":
        return execute_run_here(*argv[1:])
    print(
        "usage: python -m metaflow_dagster.launch execute RUN_ID FILE ATTR JOB "
        "(started by `python flow.py dagster trigger`)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
