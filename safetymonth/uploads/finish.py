"""A finished upload enters the path of an attachment: stored content-addressed, checked by
the validator (the sandbox of :func:`safetymonth.validator.check_file`), recorded as a
submission of its unit (``source: upload``) with the unit's credit, and a receipt with the
verdict queued to the unit's registered addresses (the outbox sends it; a request never
does).

The credit is an ``add`` decision by :data:`BY` (as a coordinator's ``add`` of a file that
came another way), so the history shows it and every decision and undo applies to it. It
runs in the console's background worker, right after the last PATCH; everything is recorded
in one transaction, so a failure leaves nothing half-recorded (the upload is marked failed
with a Chinese reason the unit's page shows).
"""

from __future__ import annotations

import errno
import hashlib
import logging
from pathlib import Path

from safetymonth.config import Config, Unit
from safetymonth.mailbox.reminders import recipients
from safetymonth.mailbox.replies import compose_decision_notice, file_line
from safetymonth.storage.records import ADD, UPLOAD_PREFIX, NewAttachment
from safetymonth.storage.repository import Repository
from safetymonth.storage.session import now
from safetymonth.storage.uploads import DONE, FAILED, FINISHED, UploadRecord
from safetymonth.uploads import partial
from safetymonth.validator import check_file

log = logging.getLogger("safetymonth.uploads")

BY = "上传链接"  # who the add decision of an upload is recorded as made by
REASON = "单位通过上传链接提交"
DISK_FULL = "服务器磁盘已满，文件未能保存，请稍后重新上传或联系活动办公室。"
NOT_RECORDED = "文件已收到，但未能登记，请联系活动办公室。"


def finish(store: Repository, config: Config, upload_id: str, digest: str | None) -> None:
    """Record a finished upload (``digest``: its SHA-256 when hashed as it came in)."""
    upload = store.upload(upload_id)
    if upload is None or upload.state != FINISHED:
        return  # recorded already, or removed
    unit = next((item for item in config.units if item.key == upload.unit), None)
    try:
        _record(config, store, upload, unit, digest)
    except Exception as error:
        full = isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
        log.exception("upload %s of %s could not be recorded", upload.id, upload.unit)
        partial.remove(config.storage_dir, upload.id)
        store.set_upload_state(upload.id, FAILED, now(),
                               error=DISK_FULL if full else NOT_RECORDED)


def _record(config: Config, store: Repository, upload: UploadRecord, unit: Unit | None,
            digest: str | None) -> None:
    path = partial.path_of(config.storage_dir, upload.id)
    digest = digest or _sha256(path)
    stored = store.adopt(path, digest, upload.length)
    verdicts = [verdict.record() for verdict in
                check_file(store.path(stored), config.policy, upload.name)]
    at = now()
    key = hashlib.sha256(f"{upload.id}\n{digest}".encode()).hexdigest()
    with store.transaction():
        message = store.record_added_message(upload.id, key, f"{REASON}：{upload.name}", at,
                                             prefix=UPLOAD_PREFIX)
        store.record_verdicts(message, [NewAttachment(
            0, upload.name, stored, digest, upload.length, "application/octet-stream",
            verdicts)])
        decision = store.record_decision(ADD, REASON, BY, at, message=message,
                                         unit=upload.unit)
        store.set_upload_state(upload.id, DONE, at, message=message)
        if unit is not None and config.uploads.receipt:
            _queue_receipt(config, store, unit, decision, message, upload.name, verdicts)
    log.info("upload %s of %s: %s recorded as message #%d", upload.id, upload.unit,
             upload.name, message)


def _queue_receipt(config: Config, store: Repository, unit: Unit, decision: int,
                   message: int, name: str, verdicts: list[dict[str, object]]) -> None:
    """The verdict, to the unit's registered addresses (queued; the watcher sends it)."""
    record = store.decision(decision)
    assert record is not None
    lines = [file_line(verdict) for verdict in verdicts]
    what = f"通过上传链接收到的文件“{name}”已检查：" + "；".join(
        f"{line.summary}" + (f"（{'；'.join(line.fixes)}）" if line.fixes else "")
        for line in lines)
    for address in recipients(store, unit):
        outgoing = compose_decision_notice(config, address, unit.name, what, record)
        store.queue_reply(outgoing.id, message, "receipt", unit.key, address,
                          outgoing.headers, outgoing.data)


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
