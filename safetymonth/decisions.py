"""Coordinators' decisions: credit a message to a unit, put aside one that is no submission,
accept or reject a file, add files received outside mail, and undo any of them. Each is
recorded with who, when and why (:mod:`safetymonth.storage.credit` works out what follows
from them at read time), and the listings that scripts and the console read (``messages``,
``files``, ``history``).

The dictionaries returned here are the CLI's JSON contract (DESIGN.md).
"""

from __future__ import annotations

import getpass
import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

from safetymonth.config import Config, Unit
from safetymonth.deliverables import deliverables_of
from safetymonth.filenames import plain_name
from safetymonth.mailbox.reminders import recipients
from safetymonth.mailbox.replies import compose_decision_notice
from safetymonth.report import local_time
from safetymonth.storage.credit import (
    ACCEPT,
    ADD,
    ASSIGN,
    CREDIT,
    DISMISS,
    REJECT,
    DecisionRecord,
    FileView,
    MessageView,
)
from safetymonth.storage.repository import NewAttachment, Repository, now
from safetymonth.uploads.links import unit_link
from safetymonth.validator import check_file

ADD_READ_CHUNK = 1024 * 1024
# What the terminal tables and the console show for the JSON's codes (the JSON keeps them).
KIND_LABELS = {"photo": "照片", "video": "视频", "document": "文档", "archive": "压缩包",
               "other": "其他"}
ACTION_LABELS = {"credit": "计入单位", "accept": "认定合格", "reject": "认定不合格",
                 "add": "补充文件", "dismiss": "已处理（非报送邮件）", "assign": "归入材料"}
CREDITED_BY_LABELS = {"registry": "登记名单", "decision": "人工决定"}
CELL_LABELS = {"kind": KIND_LABELS, "decision": ACTION_LABELS, "action": ACTION_LABELS,
               "credited_by": CREDITED_BY_LABELS}


class DecisionError(Exception):
    """A decision that cannot be made as asked (unknown unit, message, file or decision)."""


def decided_by(name: str | None) -> str:
    """``--by NAME``, else the OS user."""
    return name or getpass.getuser()


def find_unit(config: Config, ident: str) -> Unit:
    """The unit whose id or name is ``ident``."""
    for unit in config.units:
        if ident in (unit.id, unit.name):
            return unit
    raise DecisionError(f"no unit with the id or name {ident!r} in units[]")


def find_message(store: Repository, ident: str) -> int:
    """A message by its id (``#N`` in the poll log) or its Message-ID."""
    number = ident.lstrip("#")
    if number.isdigit() and store.message(int(number)) is not None:
        return int(number)
    message_id = ident if ident.startswith("<") else f"<{ident}>"
    found = store.message_by_message_id(message_id)
    if found is None:
        raise DecisionError(f"no message with the id or Message-ID {ident!r} "
                            f"(see safetymonth messages)")
    return found


def find_file(store: Repository, ident: str) -> FileView:
    if ident.isdigit():
        found = store.file_views(file=int(ident))
        if found:
            return found[0]
    raise DecisionError(f"no file with the id {ident!r} (see safetymonth files)")


# --- the decisions --------------------------------------------------------------------------


def credit(config: Config, store: Repository, message: str, unit: str, reason: str,
           by: str, notify: bool = False) -> DecisionRecord:
    """Credit a message to a unit, whatever its sender or authentication said."""
    target, owner = find_message(store, message), find_unit(config, unit)
    with store.transaction():
        decision = store.record_decision(CREDIT, _reason(reason), by, now(), message=target,
                                         unit=owner.key)
        record = _notified(config, store, decision, owner, notify,
                           f"邮件（编号 {target}）已计入贵单位的报送材料")
    return record


def _holds_cloud_links(store: Repository, message: int) -> bool:
    """A credited mail with cloud links may be put aside too: that takes its links off the
    coordinators' list (``report`` ``cloud_links``) and leaves its credit as it is."""
    return any(record.id == message for record in store.cloud_link_messages())


def dismiss(config: Config, store: Repository, message: str, reason: str,
            by: str) -> DecisionRecord:
    """Put aside a message that is no submission (a question, a thank-you): 已处理. It
    leaves the list of mail credited to no unit; undo brings it back."""
    target = find_message(store, message)
    if store.credited_unit(target) is not None and not _holds_cloud_links(store, target):
        raise DecisionError(f"message {target} is credited to a unit: undo that first")
    if any(record.action == DISMISS and record.message == target and not record.undone_at
           for record in store.decisions()):
        raise DecisionError(f"message {target} was put aside already (see safetymonth history)")
    with store.transaction():
        decision = store.record_decision(DISMISS, _reason(reason), by, now(), message=target)
    record = store.decision(decision)
    assert record is not None
    return record


def accept(config: Config, store: Repository, file: str, reason: str, by: str,
           notify: bool = False) -> DecisionRecord:
    """Count a file as accepted whatever the validator said (every copy of its content)."""
    return _judge(config, store, ACCEPT, file, reason, by, notify)


def reject(config: Config, store: Repository, file: str, reason: str, by: str,
           notify: bool = False) -> DecisionRecord:
    """Count a file as failed whatever the validator said (every copy of its content)."""
    return _judge(config, store, REJECT, file, reason, by, notify)


def _judge(config: Config, store: Repository, action: str, file: str, reason: str, by: str,
           notify: bool) -> DecisionRecord:
    target = find_file(store, file)
    owner = next((unit for unit in config.units if unit.key == target.unit), None)
    if notify and owner is None:
        raise DecisionError(f"file {target.id} is credited to no unit: nobody to notify")
    verb = "已认定为合格" if action == ACCEPT else "经审核认定为不合格"
    with store.transaction():
        decision = store.record_decision(action, _reason(reason), by, now(), file=target.id,
                                         unit=target.unit)
        return _notified(config, store, decision, owner, notify, f"文件“{target.name}”{verb}")


def assign(config: Config, store: Repository, file: str, deliverable: str, reason: str,
           by: str) -> DecisionRecord:
    """Count a file (every copy of its content) for ``deliverable`` (its id), whatever its
    name and subject made of it; undo gives it back to the rule."""
    target = find_file(store, file)
    owed = {item.id: item for item in deliverables_of(config.campaign)}
    chosen = owed.get(deliverable)
    if chosen is None:
        raise DecisionError(f"no deliverable {deliverable!r}; the campaign's are "
                            f"{', '.join(owed) or 'none'}")
    if target.kind not in chosen.kinds:
        raise DecisionError(f"file {target.id} is a {target.kind}; {chosen.id} takes "
                            f"{', '.join(chosen.kinds)}")
    with store.transaction():
        decision = store.record_decision(ASSIGN, _reason(reason), by, now(), file=target.id,
                                         unit=target.unit, deliverable=chosen.id)
    record = store.decision(decision)
    assert record is not None
    return record


def add(config: Config, store: Repository, unit: str, reason: str, by: str,
        paths: list[Path], notify: bool = False, names: list[str] | None = None
        ) -> tuple[DecisionRecord, list[FileView]]:
    """Files received outside mail (a cloud link, a USB stick): stored in the store, checked
    by the validator and credited to ``unit``, as one added submission. ``names`` (one per
    path, files only) are the names to record when the files on disk had to be named
    otherwise (an upload's name cut to what the file system takes)."""
    owner = find_unit(config, unit)
    files = _files_of(paths)
    if not files:
        raise DecisionError("no files to add in " + ", ".join(map(str, paths)))
    given = names if names is not None and len(names) == len(files) else \
        [path.name for path in files]
    checked = [_store_and_check(config, store, position, path, name)
               for position, (path, name) in enumerate(zip(files, given, strict=True))]
    at = now()
    digest = hashlib.sha256("\n".join([uuid.uuid4().hex] + [item.sha256 for item in checked])
                            .encode()).hexdigest()
    with store.transaction():
        message = store.record_added_message(uuid.uuid4().hex, digest, _reason(reason), at)
        store.record_verdicts(message, checked)
        decision = store.record_decision(ADD, _reason(reason), by, at, message=message,
                                         unit=owner.key)
        names = "、".join(f"“{item.name}”" for item in checked)
        record = _notified(config, store, decision, owner, notify,
                           f"以其他方式收到的文件 {names} 已计入贵单位的报送材料")
    return record, [view for view in store.file_views(owner.key) if view.message == message]


def undo(store: Repository, decision: int, by: str) -> DecisionRecord:
    """Undo a decision: everything is as it was before it (the record stays, marked)."""
    record = store.decision(decision)
    if record is None:
        raise DecisionError(f"no decision {decision} (see safetymonth history)")
    if record.undone_at is not None:
        raise DecisionError(f"decision {decision} was undone already at {record.undone_at} "
                            f"by {record.undone_by}")
    store.undo_decision(decision, by, now())
    undone = store.decision(decision)
    assert undone is not None
    return undone


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise DecisionError("--reason must say why (it is kept in the history)")
    return reason


def _files_of(paths: list[Path]) -> list[Path]:
    """Regular files named, and those inside folders named, in order; never a symlink."""
    found: list[Path] = []
    for path in paths:
        if path.is_symlink():
            raise DecisionError(f"{path}: a symbolic link; name the file itself")
        if path.is_dir():
            found += sorted(item for item in path.rglob("*")
                            if item.is_file() and not item.is_symlink())
        elif path.is_file():
            found.append(path)
        else:
            raise DecisionError(f"{path}: not a file or folder")
    return found


def _store_and_check(config: Config, store: Repository, position: int,
                     path: Path, name: str) -> NewAttachment:
    with path.open("rb") as stream:
        digest, stored, size = store.put_stream(iter(lambda: stream.read(ADD_READ_CHUNK), b""))
    name = plain_name(name)
    verdicts = check_file(store.path(stored), config.policy, name)
    return NewAttachment(position, name, stored, digest, size,
                         "application/octet-stream", [v.record() for v in verdicts])


def _notified(config: Config, store: Repository, decision: int, unit: Unit | None,
              notify: bool, what: str) -> DecisionRecord:
    """Queue the short reply of ``--notify`` (to the unit's own addresses, never to a
    message's sender: a forged or a machine's From must not get it)."""
    record = store.decision(decision)
    assert record is not None
    if notify and unit is not None:
        addresses = recipients(store, unit)
        if not addresses:
            raise DecisionError(f"{unit.name}: no address known to notify")
        link = unit_link(config, store, unit)
        for address in addresses:
            outgoing = compose_decision_notice(config, address, unit.name, what, record, link)
            store.queue_reply(outgoing.id, record.message, "decision", unit.key, address,
                              outgoing.headers, outgoing.data)
    return record


# --- what the CLI prints --------------------------------------------------------------------


def unit_names(config: Config) -> dict[str, str]:
    return {unit.key: unit.name for unit in config.units}


def message_rows(config: Config, store: Repository, unit: str | None = None
                 ) -> list[dict[str, Any]]:
    """``messages --json``."""
    key = find_unit(config, unit).key if unit else None
    names = unit_names(config)
    return [_message_row(view, names) for view in store.message_views(key)]


def _message_row(view: MessageView, names: dict[str, str]) -> dict[str, Any]:
    return {"id": view.id, "message_id": view.message_id, "sender": view.sender,
            "sender_name": view.sender_name, "unit": names.get(view.unit or ""),
            "unit_id": view.unit if view.unit in names else None,
            "credited_by": view.credited_by if view.unit in names else None,
            "subject": view.subject, "received": view.received, "state": view.state,
            "files": view.files, "added": view.added, "suspicious": view.suspicious,
            "not_credited": view.not_credited, "no_reply": view.no_reply,
            "reuses_message_id_of": view.reuses, "source": view.source}


def file_rows(config: Config, store: Repository, unit: str | None = None,
              failed: bool = False) -> list[dict[str, Any]]:
    """``files --json``: ``ok`` is the judgement after decisions, ``verdict_ok`` the
    validator's."""
    key = find_unit(config, unit).key if unit else None
    names = unit_names(config)
    views = store.file_views(key, failed=failed)
    counted = store.file_deliverables([view.id for view in views])
    return [{**file_row(view, names), "deliverable": counted.get(view.id)} for view in views]


def file_row(view: FileView, names: dict[str, str]) -> dict[str, Any]:
    verdict = view.verdict
    return {"id": view.id, "message": view.message, "unit": names.get(view.unit or ""),
            "unit_id": view.unit if view.unit in names else None, "sender": view.sender,
            "received": view.received, "name": view.name, "kind": view.kind,
            "format": verdict.get("format"), "width": verdict.get("width"),
            "height": verdict.get("height"), "ok": view.ok, "verdict_ok": view.verdict_ok,
            "decision": view.decision, "decision_id": view.decision_id,
            "reason": view.reason, "reasons": verdict.get("reasons", []),
            "sha256": view.sha256, "size": view.size, "source": view.source}


def history_rows(config: Config, store: Repository) -> list[dict[str, Any]]:
    """``history --json``: every decision, undone ones too."""
    names = unit_names(config)
    return [decision_row(record, names) for record in store.decisions()]


def history_table_rows(config: Config, store: Repository) -> list[dict[str, Any]]:
    """``history`` for the terminal: as ``history --json``, each target named as a clerk
    reads it (a file by its name)."""
    records = store.decisions()
    names, files = unit_names(config), file_names(store, records)
    return [{**decision_row(record, names),
             "target": target_label(record.action, record.target, files)}
            for record in records]


def decision_row(record: DecisionRecord, names: dict[str, str]) -> dict[str, Any]:
    row = {"id": record.id, "action": record.action, "target": record.target,
           "unit": names.get(record.unit or "", record.unit), "unit_id": record.unit,
           "reason": record.reason, "by": record.by, "at": record.at,
           "undone_at": record.undone_at, "undone_by": record.undone_by}
    if record.action == ASSIGN:  # the others' rows keep the keys they always had
        row["deliverable"] = record.deliverable
    return row


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], zone: str) -> str:
    """A plain text table of ``rows`` (times in ``zone``) for the terminal."""
    lines = ["\t".join(title for _, title in columns)]
    for row in rows:
        lines.append("\t".join(_cell(row[key], key, zone) for key, _ in columns))
    return "\n".join(lines)


def _cell(value: Any, key: str, zone: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in ("received", "at", "undone_at"):
        return local_time(value, zone)
    if key in CELL_LABELS:
        return CELL_LABELS[key].get(str(value), str(value))
    return re.sub(r"\s+", " ", str(value))


def target_label(action: str, target: int | None, file_names: dict[int, str]) -> str:
    """What a decision is about, as a clerk reads it: a file by its name, else a message."""
    if action in (ACCEPT, REJECT, ASSIGN):
        name = file_names.get(target or 0)
        return f"文件“{name}”（编号 {target}）" if name else f"文件 {target}"
    return f"邮件 #{target}"


def file_names(store: Repository, records: list[DecisionRecord]) -> dict[int, str]:
    """The names of the files that accept and reject decisions are about, by file id."""
    ids = {record.target for record in records
           if record.action in (ACCEPT, REJECT, ASSIGN) and record.target is not None}
    found = {}
    for ident in sorted(ids):
        views = store.file_views(file=ident)
        if views:
            found[ident] = views[0].name
    return found


def describe(record: DecisionRecord, names: dict[str, str], files: dict[int, str]) -> str:
    """One line for the terminal about a decision just made or undone."""
    unit = names.get(record.unit or "", record.unit or "")
    state = f"（已由 {record.undone_by} 撤销）" if record.undone_at else ""
    what = target_label(record.action, record.target, files)
    if record.deliverable:
        what += f" → {record.deliverable}"
    return (f"决定 {record.id}：{ACTION_LABELS.get(record.action, record.action)} {what}"
            f"{'，单位 ' + unit if unit else ''}，决定人 {record.by}{state}")
