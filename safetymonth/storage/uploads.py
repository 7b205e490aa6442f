"""Upload links and tus uploads in the store: the repository's uploads part.

Links: only a token's SHA-256 is kept (with the nonce it is derived from, see
:mod:`safetymonth.uploads.links`); issuing a unit's new link marks its older ones rotated in
the same transaction, so an old link is dead the moment the new one exists. Uploads: one row
per tus upload, its offset moved only after the bytes are on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update

from safetymonth.storage.hot import hot
from safetymonth.storage.schema import upload_links, uploads
from safetymonth.storage.session import Session

OPEN, FINISHED, DONE, FAILED, ENDED = "open", "finished", "done", "failed", "ended"
HOLDING = (OPEN, FINISHED, DONE)  # states whose bytes count against the unit's quota
# Every unit's live links, or one unit's (each reply intake queues carries its unit's):
# built once, so that SQLAlchemy compiles them once.
_LIVE = hot(select(upload_links).where(upload_links.c.rotated_at.is_(None),
                                       upload_links.c.expires_at > bindparam("at")))
_LIVE_OF_UNIT = hot(_LIVE.where(upload_links.c.unit == bindparam("unit_")))


@dataclass(frozen=True)
class LinkRecord:
    token_hash: str
    nonce: str
    unit: str
    issued_at: str
    expires_at: str
    rotated_at: str | None


@dataclass(frozen=True)
class UploadRecord:
    id: str
    unit: str
    link: str
    length: int
    offset: int
    name: str
    state: str
    created_at: str
    touched_at: str
    message: int | None
    error: str | None


class Uploads:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- links ------------------------------------------------------------------------

    def issue_link(self, unit: str, token_hash: str, nonce: str, issued_at: str,
                   expires_at: str) -> None:
        """A new link for ``unit``; every earlier link of the unit is dead from now on."""
        with self.session.transaction():
            self.session.execute(update(upload_links).where(
                upload_links.c.unit == unit, upload_links.c.rotated_at.is_(None))
                .values(rotated_at=issued_at))
            self.session.execute(upload_links.insert().values(
                token_hash=token_hash, nonce=nonce, unit=unit, issued_at=issued_at,
                expires_at=expires_at))

    def live_links(self, at: str, unit: str | None = None) -> dict[str, LinkRecord]:
        """Each unit's link (or only ``unit``'s) that is neither rotated nor expired at
        ``at``, by unit key."""
        if unit is None:
            rows = self.session.all(_LIVE, {"at": at})
        else:
            rows = self.session.all(_LIVE_OF_UNIT, {"at": at, "unit_": unit})
        return {row.unit: LinkRecord(**row._mapping) for row in rows}

    def link_for_hash(self, token_hash: str, at: str) -> LinkRecord | None:
        """The live link whose token hashes to ``token_hash``; None when it is unknown,
        rotated or expired (callers answer all three alike)."""
        row = self.session.one(select(upload_links).where(
            upload_links.c.token_hash == token_hash, upload_links.c.rotated_at.is_(None),
            upload_links.c.expires_at > at))
        return LinkRecord(**row._mapping) if row else None

    # --- uploads ----------------------------------------------------------------------

    def create_upload(self, record: UploadRecord) -> None:
        self.session.write(uploads.insert().values(**record.__dict__))

    def upload(self, upload_id: str) -> UploadRecord | None:
        row = self.session.one(select(uploads).where(uploads.c.id == upload_id))
        return UploadRecord(**row._mapping) if row else None

    def unit_uploads(self, unit: str) -> list[UploadRecord]:
        """The unit's uploads that are not removed, oldest first."""
        return [UploadRecord(**row._mapping) for row in self.session.all(
            select(uploads).where(uploads.c.unit == unit, uploads.c.state != ENDED)
            .order_by(uploads.c.created_at, uploads.c.id))]

    def bytes_held(self, unit: str) -> int:
        """What the unit's uploads take of its quota: finished and unfinished together."""
        row = self.session.one(select(func.coalesce(func.sum(uploads.c.length), 0)).where(
            uploads.c.unit == unit, uploads.c.state.in_(HOLDING)))
        return int(row[0]) if row else 0

    def creations_since(self, link: str, since: str) -> int:
        """Uploads created through ``link`` since ``since`` (removed ones too)."""
        row = self.session.one(select(func.count()).select_from(uploads).where(
            uploads.c.link == link, uploads.c.created_at >= since))
        return int(row[0]) if row else 0

    def advance_upload(self, upload_id: str, offset: int, at: str) -> None:
        """The upload's bytes up to ``offset`` are on disk (fsynced)."""
        self.session.write(update(uploads).where(uploads.c.id == upload_id)
                           .values(offset=offset, touched_at=at))

    def set_upload_state(self, upload_id: str, state: str, at: str,
                         message: int | None = None, error: str | None = None) -> None:
        self.session.write(update(uploads).where(uploads.c.id == upload_id).values(
            state=state, touched_at=at, message=message, error=error))

    def uploads_in(self, state: str, touched_before: str | None = None) -> list[UploadRecord]:
        """Uploads in ``state``, optionally only those idle since ``touched_before``."""
        statement = select(uploads).where(uploads.c.state == state)
        if touched_before is not None:
            statement = statement.where(uploads.c.touched_at < touched_before)
        return [UploadRecord(**row._mapping) for row in self.session.all(statement)]
