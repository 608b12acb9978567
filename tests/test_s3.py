"""A flow on Metaflow's S3 datastore, against a real S3 server (moto's, on localhost).

The runtime reads what it needs of each task (foreach cardinality, the switch's choice,
artifact names) from the datastore Metaflow was configured with, so a run on S3 must
match a native run on S3. Credentials and the endpoint come from the environment of the
processes, as on a real deployment, and never reach the generated file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    comparable,
    copy_flow,
    create,
    free_port,
    multiprocess_run,
    read_run,
    run_cli,
)

SECRET = f"secret-{uuid.uuid4().hex}"


@pytest.fixture
def s3_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh S3 server with one bucket; the variables that point Metaflow at it."""
    port = free_port()
    log = (tmp_path / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "moto's S3 server exited"
                assert time.monotonic() < deadline, "moto's S3 server did not start"
                time.sleep(0.2)
        bucket = f"mfd-{uuid.uuid4().hex[:12]}"
        request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()
        yield {
            "AWS_ACCESS_KEY_ID": "mfd-test-key",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "METAFLOW_S3_ENDPOINT_URL": endpoint,
            "METAFLOW_DEFAULT_DATASTORE": "s3",
            "METAFLOW_DATASTORE_SYSROOT_S3": f"s3://{bucket}/metaflow",
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_flow_on_s3_matches_a_native_run(
    flow_dir: Path, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    flow = copy_flow("switch_in_foreach_flow.py", flow_dir)
    create(flow, "defs.py", env=s3_env)
    text = (flow_dir / "defs.py").read_text()
    assert "--datastore=s3" in text
    # What the processes' environment holds stays there.
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"):
        assert s3_env[name] not in text
    assert s3_env["METAFLOW_S3_ENDPOINT_URL"] not in text

    result = multiprocess_run(
        flow_dir / "defs.py", "SwitchInForeachFlow", tmp_path / "home", s3_env
    )
    assert result["success"], result["failures"]
    ours = read_run(
        flow_dir, f"SwitchInForeachFlow/dagster-{result['run_id']}", env=s3_env
    )
    run_id_file = flow_dir / "native-run-id"
    run_cli(
        [flow.name, "run", "--run-id-file", str(run_id_file)], cwd=flow_dir, env=s3_env
    )
    native = read_run(
        flow_dir, f"SwitchInForeachFlow/{run_id_file.read_text().strip()}", env=s3_env
    )
    assert ours["successful"] and ours["finished"]
    assert comparable(ours) == comparable(native)
    # The run's tasks are in the bucket.
    root = s3_env["METAFLOW_DATASTORE_SYSROOT_S3"].removeprefix("s3://")
    bucket, prefix = root.split("/", 1)
    run_prefix = f"{prefix}/SwitchInForeachFlow/dagster-{result['run_id']}/"
    listing = urllib.request.urlopen(
        f"{s3_env['METAFLOW_S3_ENDPOINT_URL']}/{bucket}?list-type=2"
        f"&prefix={urllib.parse.quote(run_prefix)}",
        timeout=10,
    ).read()
    keys = re.findall(rb"<Key>([^<]+)</Key>", listing)
    steps = {key.decode().removeprefix(run_prefix).split("/")[0] for key in keys}
    assert set(ours["steps"]) <= steps


_READS = r"""
import json, os, sys
from pathlib import Path
from metaflow_dagster.runtime.datastore import (
    _flow_datastore, _task_datastore, _task_metadata, _unfinished,
)
from metaflow_dagster.runtime.model import FlowInfo, TaskResult
from metaflow_dagster.runtime.stores import kept_done

flow_file, run_id, log = sys.argv[1:4]
flow = FlowInfo(name="SwitchInForeachFlow", file=flow_file, anchor=flow_file,
                start_step="start", end_step="end", steps={}, datastore="s3")
requests = lambda: Path(log).read_text().count(" HTTP/1.1")
out = {}
store = _flow_datastore(flow)
out["same store"] = _flow_datastore(flow) is store
path = f"{run_id}/start/1"
out["unfinished"] = _unfinished(flow, TaskResult(path, 0), "start")
before = requests()
tds = _task_datastore(flow, TaskResult(path, 0), "start")
values = [tds.get(n) for n in ("_transition", "_graph_info", "_task_ok")]
meta = _task_metadata(flow, TaskResult(path, 0), "start")
out["requests for a done attempt read again"] = requests() - before
out["artifacts"] = meta["artifacts"].data
# An attempt that never ran: not done, so nothing of it is kept.
out["attempt 3"] = _unfinished(flow, TaskResult(path, 3), "start")
out["attempt 3 kept"] = kept_done(store, "%s/start/1" % run_id, 3) is not None
os.environ["AWS_SECRET_ACCESS_KEY"] = "another"
out["new store on new credentials"] = _flow_datastore(flow) is not store
print("RESULT " + json.dumps(out))
"""


def test_a_done_attempt_is_read_from_s3_once_per_process(
    flow_dir: Path, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    """The runtime makes one datastore per process (a boto3 client costs 0.2-0.3 s of
    CPU) and keeps what a done attempt holds: read again, it costs no request. Whether
    an attempt is done is always read from S3 (runtime/stores.py)."""
    flow = copy_flow("switch_in_foreach_flow.py", flow_dir)
    run_id_file = flow_dir / "native-run-id"
    run_cli(
        [flow.name, "run", "--run-id-file", str(run_id_file)], cwd=flow_dir, env=s3_env
    )
    script = tmp_path / "reads.py"
    script.write_text(_READS)
    log = tmp_path / "moto.log"  # the s3_env fixture's server log
    proc = run_cli(
        [str(script), str(flow), run_id_file.read_text().strip(), str(log)],
        cwd=flow_dir,
        env=s3_env,
    )
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    out = json.loads(line.removeprefix("RESULT "))
    assert out["same store"]
    assert out["unfinished"] is None
    assert out["requests for a done attempt read again"] == 0
    assert out["artifacts"] == ["numbers"], out
    assert "no DONE marker" in out["attempt 3"]
    assert not out["attempt 3 kept"]
    assert out["new store on new credentials"]
