"""What the store's parts give and take: frozen dataclasses, and the rows they are made of
(turned into them here, so no row leaves ``storage/``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row

from safetymonth.filenames import plain_name

# Message states. RECEIVED: raw stored, not yet (fully) processed.
RECEIVED, PROCESSED, FAILED, TOO_LARGE = "received", "processed", "failed", "too_large"
# Reply states.
QUEUED, SENT, REFUSED = "queued", "sent", "refused"
# Coordinators' decisions: on a message (credit, add, dismiss) or a file's content.
CREDIT, ADD, ACCEPT, REJECT = "credit", "add", "accept", "reject"
DISMISS = "dismiss"  # a message that is no submission (a question), put aside: 已处理
ASSIGN = "assign"  # a file's content counted for a deliverable other than the rule's
MESSAGE_ACTIONS, FILE_ACTIONS = (CREDIT, ADD), (ACCEPT, REJECT)
ADDED_PREFIX = "added:"  # source_key of a message that holds files added by hand
# source_key of a unit's upload through its link (safetymonth.uploads): files received
# outside mail like those added by hand, so it is added too (no reply owed, 补充文件).
UPLOAD_PREFIX = ADDED_PREFIX + "upload:"


def source_of(source_key: str) -> str:
    """Where a message's files came from: ``mail``, ``added`` (by hand) or ``upload``."""
    if source_key.startswith(UPLOAD_PREFIX):
        return "upload"
    return "added" if source_key.startswith(ADDED_PREFIX) else "mail"


@dataclass(frozen=True)
class MessageRecord:
    id: int
    source_key: str
    message_id: str | None
    sha256: str
    size: int
    sender: str | None
    sender_name: str | None
    unit: str | None
    auth: str | None
    suspicious: str | None
    subject: str | None
    date_header: str | None
    received_at: str
    state: str
    tries: int
    last_error: str | None
    no_reply: str | None
    notes: str | None
    not_credited: str | None
    claimed_by: str | None = None
    sender_domain: str | None = None
    held_until: str | None = None  # held for the digest until then (UTC)
    digest: str | None = None  # the digest reply that answered it
    credit_unit: str | None = None  # the unit credited now (storage.credit)
    reuses: int | None = None  # the earlier message whose Message-ID it reuses (other content)

    @property
    def claimed_unit(self) -> str | None:
        """The unit the From address matched, credited or not (kept in the notes)."""
        return self._note("claimed_unit")

    @property
    def bounces(self) -> list[dict[str, Any]]:
        """What a delivery-status report says bounced of our replies (kept in the notes)."""
        return list(self._note("bounces") or [])

    def _note(self, key: str) -> Any:
        try:
            return json.loads(self.notes or "{}").get(key)
        except (ValueError, AttributeError):
            return None


@dataclass(frozen=True)
class FileRecord:
    """One stored attachment with the validator's verdicts (a zip has one per member)."""

    id: int
    message: int
    position: int
    name: str
    stored_name: str
    sha256: str
    size: int
    content_type: str | None
    verdicts: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ReplyRecord:
    id: str
    message: int | None
    kind: str
    unit: str | None
    recipient: str
    headers: dict[str, str]
    body: bytes
    state: str
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None
    claimed_by: str | None


@dataclass(frozen=True)
class SenderCount:
    address: str
    messages: int


@dataclass(frozen=True)
class Received:
    """A raw message just stored, as :meth:`Repository.record_received` records it."""

    sha256: str
    size: int
    message_id: str | None
    sender: str | None
    sender_name: str | None
    subject: str
    date_header: str | None
    state: str = RECEIVED
    last_error: str | None = None
    content: str | None = None  # its content digest (mailbox.content); None: its sha256


@dataclass(frozen=True)
class Recorded:
    """What :meth:`Repository.record_received` found: the record and whether it is new, or a
    duplicate (the same message under another key)."""

    message: int
    new: bool
    duplicate: bool = False


@dataclass(frozen=True)
class NewAttachment:
    """An attachment stored and checked, for :meth:`Repository.record_verdicts`."""

    position: int
    name: str
    stored_name: str
    sha256: str
    size: int
    content_type: str
    verdicts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What intake decided about a message, for :meth:`Repository.record_outcome`."""

    state: str
    unit: str | None
    auth: str | None
    suspicious: str | None
    not_credited: str | None
    no_reply: str | None
    notes: dict[str, Any]
    last_error: str | None = None
    held_until: str | None = None  # held for the digest until its rate-limit window ends


@dataclass(frozen=True)
class RegistryUnit:
    """One unit of the config's registry: its key (id, else name), name and addresses."""

    key: str
    name: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Tally:
    """What one unit has sent, counted from the current registry and decisions."""

    submissions: int = 0
    last_submission: str | None = None
    documents_ok: int = 0
    documents_failed: int = 0
    photos_ok: int = 0
    photos_failed: int = 0
    videos_ok: int = 0
    videos_failed: int = 0


@dataclass(frozen=True)
class MessageView:
    """A message as ``messages`` lists it: with the unit credited now and why."""

    id: int
    message_id: str | None
    sender: str | None
    sender_name: str | None
    unit: str | None  # the unit's key
    credited_by: str | None  # "registry", "decision" or None
    subject: str | None
    received: str
    state: str
    suspicious: str | None
    not_credited: str | None
    no_reply: str | None
    files: int
    added: bool
    reuses: int | None = None  # the earlier message whose Message-ID it reuses
    source: str = "mail"  # mail, added or upload (source_of)


@dataclass(frozen=True)
class FileView:
    """One checked file (a zip member is a file of its own) with both judgements."""

    id: int
    message: int
    attachment: int
    unit: str | None
    sender: str | None
    received: str
    name: str
    attachment_name: str
    stored_name: str
    sha256: str
    size: int
    kind: str
    verdict_ok: bool
    ok: bool
    decision: str | None  # accept or reject, when a decision overrides the verdict
    decision_id: int | None
    reason: str | None
    verdict: dict[str, Any]
    member: int | None = None  # a zip member's position (validator.archive.member_at)
    source: str = "mail"  # its message's: mail, added or upload (source_of)


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    action: str
    message: int | None
    file: int | None
    content: int | None
    unit: str | None
    reason: str
    by: str
    at: str
    undone_at: str | None
    undone_by: str | None
    deliverable: str | None = None  # an assign decision's deliverable

    @property
    def target(self) -> int | None:
        return self.file if self.action in (*FILE_ACTIONS, ASSIGN) else self.message


TALLY_FIELDS = {("document", True): "documents_ok", ("document", False): "documents_failed",
                ("photo", True): "photos_ok", ("photo", False): "photos_failed",
                ("video", True): "videos_ok", ("video", False): "videos_failed"}



# --- rows to records ----------------------------------------------------------------------


def domain_of(sender: str | None) -> str | None:
    return "@" + sender.rsplit("@", 1)[1] if sender and "@" in sender else None


def message_record(row: Row[Any]) -> MessageRecord:
    return MessageRecord(**row._mapping)


def file_record(row: Row[Any]) -> FileRecord:
    values = dict(row._mapping)
    values["verdicts"] = tuple(json.loads(values.pop("verdict")))
    return FileRecord(**values)


def reply_record(row: Row[Any]) -> ReplyRecord:
    values = dict(row._mapping)
    values["headers"] = json.loads(values["headers"])
    values["body"] = bytes(values["body"])
    return ReplyRecord(**values)



def message_view(row: Row[Any]) -> MessageView:
    values = row._mapping
    return MessageView(
        id=values["id"], message_id=values["message_id"], sender=values["sender"],
        sender_name=values["sender_name"] and plain_name(values["sender_name"]),
        unit=values["credited_unit"],
        credited_by=values["credited_by"], subject=values["subject"],
        received=values["received_at"], state=values["state"],
        suspicious=values["suspicious"], not_credited=values["not_credited"],
        no_reply=values["no_reply"], files=int(values["file_count"]),
        added=str(values["source_key"]).startswith(ADDED_PREFIX), reuses=values["reuses"],
        source=source_of(str(values["source_key"])))


def file_view(row: Row[Any]) -> FileView:
    values = row._mapping
    verdict = verdict_of(json.loads(values["verdict"]), values["path"], values["member"])
    return FileView(
        id=values["id"], message=values["message"], attachment=values["attachment"],
        unit=values["unit"], sender=values["sender"], received=values["received_at"],
        name=plain_name(values["path"]),
        attachment_name=plain_name(values["attachment_name"]),
        stored_name=values["stored_name"], sha256=values["sha256"], size=values["size"],
        kind=values["kind"], verdict_ok=bool(values["verdict_ok"]), ok=bool(values["ok"]),
        decision=values["decision"], decision_id=values["decision_id"],
        reason=values["reason"], verdict=verdict, member=values["member"],
        source=source_of(str(values["source_key"])))


def verdict_of(verdicts: list[dict[str, Any]], path: str, member: int | None) -> dict[str, Any]:
    """The stored verdict of one check: by its member position (two members may share a
    name; a store from before positions has -n for the n-th, all its verdicts members')."""
    if member is not None and member < 0:
        return verdicts[-member - 1] if -member <= len(verdicts) else {}
    return next((item for item in verdicts
                 if item.get("path") == path and item.get("member") == member),
                next((item for item in verdicts if item.get("path") == path), {}))
