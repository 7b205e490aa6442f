"""Operations on a running store: ``verify [--repair]`` (every stored file present with the
hash its record names) and ``backup`` (see :mod:`safetymonth.storage.backup`).

A raw message is the source of truth: an attachment file that is missing or wrong is derived
from it again, exactly as intake stored it (:func:`safetymonth.mailbox.intake.store_attachment`),
so a repaired file is byte-identical. A raw message that is lost cannot be repaired here: it is
restored from a backup (or fetched again from the mailbox).
"""

from __future__ import annotations

from dataclasses import dataclass

from safetymonth.config import Config
from safetymonth.mailbox.intake import store_attachment
from safetymonth.mailbox.parse import parse
from safetymonth.storage.files import RAW_DIR
from safetymonth.storage.repository import (
    TOO_LARGE,
    FileRecord,
    MessageRecord,
    Repository,
    open_repository,
)

LOST = "原始邮件已丢失：请从备份恢复存储"
NOT_IN_RAW = "无法从原始邮件重新取出：请从备份恢复存储"
RAW, RAW_HEADER = "raw mail", "raw mail (header only)"
WHAT_LABELS = {RAW: "原始邮件", RAW_HEADER: "原始邮件（仅邮件头）"}


@dataclass(frozen=True)
class Problem:
    """One stored file that is missing or whose bytes do not match its record."""

    message: int
    what: str  # "raw mail" or the attachment's name
    stored_name: str
    missing: bool  # else present with the wrong hash
    repaired: bool = False
    unrepairable: str = ""  # why --repair cannot restore it

    def describe(self) -> str:
        """One line in Chinese for the clerk or administrator running ``verify``."""
        state = "缺失" if self.missing else "SHA-256 不符"
        what = WHAT_LABELS.get(self.what, f"附件“{self.what}”")
        line = f"邮件 #{self.message}：{what}（{self.stored_name}）{state}"
        if self.repaired:
            return f"{line}，已从原始邮件恢复"
        if self.unrepairable:
            return f"{line}，无法修复（{self.unrepairable}）"
        return line


def verify_store(config: Config, repair: bool = False) -> list[Problem]:
    """:func:`verify` on the store of ``config`` (``safetymonth verify``)."""
    with open_repository(config) as store:
        return verify(store, repair)


def verify(store: Repository, repair: bool = False) -> list[Problem]:
    """Every problem found, message by message; with ``repair``, attachments are derived
    again from their raw mail and each problem says whether it was repaired."""
    problems: list[Problem] = []
    seen: set[str] = set()  # a file sent twice is stored once: check (and repair) it once
    for message in store.messages():
        raw = _raw_problem(store, message)
        files = [_file_problem(store, message, item) for item in store.attachments(message.id)
                 if item.stored_name not in seen]
        seen.update(item.stored_name for item in store.attachments(message.id))
        broken = [problem for problem in files if problem is not None]
        if raw is not None:
            problems.append(raw)
            problems.extend(_unrepairable(problem) for problem in broken)
        elif broken and repair:
            problems.extend(_repair(store, message, broken))
        else:
            problems.extend(broken)
    return problems


def _raw_problem(store: Repository, message: MessageRecord) -> Problem | None:
    """The raw file is named by its hash; a message too large was stored by its header."""
    stored = f"{RAW_DIR}/{message.sha256[:2]}/{message.sha256}"
    actual = store.stored_sha256(stored)
    if actual == message.sha256:
        return None
    what = RAW_HEADER if message.state == TOO_LARGE else RAW
    return Problem(message.id, what, stored, missing=actual is None, unrepairable=LOST)


def _file_problem(store: Repository, message: MessageRecord, item: FileRecord) -> Problem | None:
    actual = store.stored_sha256(item.stored_name)
    if actual == item.sha256:
        return None
    return Problem(message.id, item.name, item.stored_name, missing=actual is None)


def _unrepairable(problem: Problem) -> Problem:
    return Problem(problem.message, problem.what, problem.stored_name, problem.missing,
                   unrepairable=LOST)


def _repair(store: Repository, message: MessageRecord, broken: list[Problem]) -> list[Problem]:
    """Parse the raw mail once and store again each broken attachment, by its position."""
    wanted = {item.stored_name: item for item in store.attachments(message.id)}
    by_position = {wanted[problem.stored_name].position: problem for problem in broken}
    repaired: set[str] = set()
    with store.raw_path(message.sha256).open("rb") as stream:
        for attachment in parse(stream).attachments:
            problem = by_position.get(attachment.position)
            if problem is None:
                continue
            store.discard(problem.stored_name)  # a wrong file in place would be kept
            digest, stored, _size = store_attachment(store, attachment)
            if stored == problem.stored_name and digest == wanted[stored].sha256:
                repaired.add(stored)
    return [Problem(p.message, p.what, p.stored_name, p.missing,
                    repaired=p.stored_name in repaired,
                    unrepairable="" if p.stored_name in repaired else NOT_IN_RAW)
            for p in broken]
