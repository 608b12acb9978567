"""Run a command as if on another machine: in a mount (and PID) namespace of its own
where the given directories are empty.

    unshare --mount --pid --fork --propagation private \
        python tests/isolate.py --hide DIR [--hide DIR ...] -- COMMAND [ARGS ...]

tests/test_cluster.py starts each Celery worker this way. A tmpfs is mounted over every
`--hide` directory (the coordinator's DAGSTER_HOME and local datastore, the other
workers' directories), so the worker shares no local disk with them: what it may read
is what a real cluster shares (the code, at the same absolute path) plus the services it
reaches over the network. In its own PID namespace, killing the namespace's first
process kills every process the worker started, as losing the machine would.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    hidden: list[str] = []
    while argv and argv[0] == "--hide":
        hidden.append(argv[1])
        argv = argv[2:]
    if not argv or argv[0] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[1:]
    for directory in hidden:
        os.makedirs(directory, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", directory], check=True
        )
    # PID 1 of the namespace: run the command as a child and reap orphans, so that the
    # worker's processes stay killable and no zombie outlives its parent.
    child = subprocess.Popen(command)
    while True:
        pid, status = os.wait()
        if pid == child.pid:
            return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
