"""One Metaflow datastore per process, and what never changes once Metaflow wrote it.

Every op reads its task's attempt back (datastore.py): the DONE marker, the transition,
the foreach cardinality, the artifact names. Metaflow's S3 storage makes a boto3 client
the first time a datastore object touches S3, which costs 0.2-0.3 s of CPU under the
GIL (botocore loads its service model from JSON; measured on a 2-core Intel Xeon), so a
datastore made per read made the run's process the bottleneck of every run on S3. The
flow's datastore is therefore made once per process, as Metaflow's own runtime makes it
once per run; a change to the variables that configure it (a test starting another
S3 server in the same process) gives a new one.

Two things are kept besides, both immutable once written, so reading them from memory
gives what reading them again would:
- small blobs, by their content hash (Metaflow's content-addressed store: `_graph_info`
  and `_task_ok` are the same blob for every task of a run);
- a done attempt's datastore (its data.json is written before its DONE marker and never
  after), only once the DONE marker was seen. Whether an attempt is done is always read
  from the datastore; only what a done attempt holds is kept.
"""

import os
import threading
from collections import OrderedDict
from typing import Any

from .model import FlowInfo

# The variables a datastore's configuration and credentials come from.
_CONFIG_PREFIXES = ("METAFLOW_", "AWS_", "AZURE_", "GOOGLE_")
# Kept blobs: only small ones, at most this much in all (least recently used dropped).
SMALL_BLOB_BYTES = 64 * 1024
BLOB_CACHE_BYTES = 16 * 1024 * 1024
# Kept done attempts (a foreach op's split, a join's inputs: reread within moments).
DONE_ATTEMPTS_KEPT = 512

_stores_lock = threading.Lock()
_stores: dict[tuple[Any, ...], Any] = {}
_done: "OrderedDict[tuple[Any, ...], Any]" = OrderedDict()


def flow_store(flow: FlowInfo, root: str | None) -> Any:
    """The flow's FlowDataStore in this process (made once per configuration)."""
    key = (os.getpid(), flow.name, flow.datastore, root, _configuration())
    with _stores_lock:
        found = _stores.get(key)
    if found is not None:
        return found
    from metaflow.datastore import FlowDataStore
    from metaflow.plugins import DATASTORES

    impl = next(d for d in DATASTORES if d.TYPE == flow.datastore)
    if root is None:
        root = impl.get_datastore_root_from_config(lambda *a, **k: None)
    made = FlowDataStore(flow.name, None, storage_impl=impl, ds_root=root)
    made.ca_store.set_blob_cache(SmallBlobs())
    with _stores_lock:
        # Another thread may have made one meanwhile: every thread uses the first.
        return _stores.setdefault(key, made)


def _configuration() -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith(_CONFIG_PREFIXES))
    )


class SmallBlobs:
    """Metaflow's blob cache interface (load_key, store_key), in memory, small blobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def load_key(self, key: str) -> bytes | None:
        with self._lock:
            blob = self._blobs.get(key)
            if blob is not None:
                self._blobs.move_to_end(key)
            return blob

    def store_key(self, key: str, blob: bytes) -> None:
        if len(blob) > SMALL_BLOB_BYTES:
            return
        with self._lock:
            if key in self._blobs:
                return
            self._blobs[key] = blob
            self._size += len(blob)
            while self._size > BLOB_CACHE_BYTES:
                _, dropped = self._blobs.popitem(last=False)
                self._size -= len(dropped)


def keep_done(store: Any, pathspec: str, attempt: int, tds: Any) -> None:
    """Keep a done attempt's datastore (the caller saw its DONE marker)."""
    with _stores_lock:
        _done[(id(store), pathspec, attempt)] = tds
        _done.move_to_end((id(store), pathspec, attempt))
        while len(_done) > DONE_ATTEMPTS_KEPT:
            _done.popitem(last=False)


def kept_done(store: Any, pathspec: str, attempt: int) -> Any | None:
    with _stores_lock:
        return _done.get((id(store), pathspec, attempt))
