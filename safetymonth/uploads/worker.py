"""What the console process keeps for uploads between requests: the background worker that
records finished uploads (validation must not hold a request), each open upload's running
SHA-256 (so the last byte needs no second read of a 1 GB file), the uploads a PATCH is
writing right now, and the sweep of idle unfinished uploads.

The sweep runs on each request to ``/u/``: an unfinished upload untouched for
``uploads.incomplete_hours`` is removed (its file and its place in the quota). Uploads left
finished but unrecorded by a stopped console are recorded when it starts again.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from safetymonth.config import Config
from safetymonth.storage.repository import Repository
from safetymonth.storage.session import now
from safetymonth.storage.uploads import ENDED, FINISHED, OPEN
from safetymonth.uploads import finish, partial
from safetymonth.uploads.links import stamp
from safetymonth.validator import prestart
from safetymonth.web.pool import RepositoryPool

log = logging.getLogger("safetymonth.uploads")


class UploadWorker:
    def __init__(self, config: Config, pool: RepositoryPool) -> None:
        self.config = config
        self.pool = pool
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uploads")
        self.hashers: dict[str, tuple[int, Any]] = {}  # upload id -> (bytes hashed, sha256)
        self.busy: set[str] = set()  # uploads a PATCH is writing now

    def start(self) -> None:
        """Start the validator's sandbox worker now (the first verdict then waits for no
        process start) and record what a stopped console left finished (in the
        background)."""
        prestart(self.config.policy.probe)
        for upload in self.pool.call(lambda store: store.uploads_in(FINISHED)):
            self.submit(upload.id, None)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def submit(self, upload_id: str, digest: str | None) -> None:
        self.hashers.pop(upload_id, None)
        self.executor.submit(self._finish, upload_id, digest)

    def _finish(self, upload_id: str, digest: str | None) -> None:
        try:
            self.pool.call(finish.finish, self.config, upload_id, digest)
        except Exception:
            log.exception("upload %s: recording failed", upload_id)

    def hasher_at(self, upload_id: str, offset: int) -> Any:
        """The running SHA-256 of the upload's first ``offset`` bytes, when this process
        saw them all come in; else None (it is then hashed once finished)."""
        if offset == 0:
            return hashlib.sha256()
        held = self.hashers.get(upload_id)
        return held[1] if held is not None and held[0] == offset else None

    def keep_hasher(self, upload_id: str, offset: int, hasher: Any) -> None:
        if hasher is None:
            self.hashers.pop(upload_id, None)
        else:
            self.hashers[upload_id] = (offset, hasher)

    def sweep(self, store: Repository) -> int:
        """Remove unfinished uploads idle for ``uploads.incomplete_hours``; how many."""
        before = stamp(datetime.now(UTC) - timedelta(hours=self.config.uploads.incomplete_hours))
        idle = [upload for upload in store.uploads_in(OPEN, touched_before=before)
                if upload.id not in self.busy]
        for upload in idle:
            partial.remove(self.config.storage_dir, upload.id)
            store.set_upload_state(upload.id, ENDED, now())
            self.hashers.pop(upload.id, None)
            log.info("upload %s of %s: idle since %s, removed", upload.id, upload.unit,
                     upload.touched_at)
        return len(idle)
