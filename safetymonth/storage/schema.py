"""The tables, in SQLAlchemy Core: one schema for SQLite (embedded) and PostgreSQL (shared).

Only :mod:`safetymonth.storage.repository` queries them and only the migrations change them:
a new column is a new Alembic revision in ``migrations/versions`` and a line here. Times are
ISO 8601 text in UTC, as stores written by the first release hold them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("source_key", Text, nullable=False, unique=True),
    Column("message_id", Text),
    Column("sha256", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sender", Text),
    Column("sender_name", Text),
    Column("unit", Text),
    Column("auth", Text),
    Column("suspicious", Text),  # why authentication failed: credited to no unit
    Column("subject", Text),
    Column("date_header", Text),
    Column("received_at", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("no_reply", Text),  # why no reply was queued
    Column("notes", Text),  # JSON: defects, claimed unit, cloud links
    Column("not_credited", Text),  # a machine's mail (RFC 3834): why it counts for no unit
    Column("sender_domain", Text),  # "@" + the sender's domain, for crediting by domain
    Column("claimed_by", Text),  # the worker processing it (see workers)
    # A registered unit's message over the rate limit: answered by one digest reply when its
    # window ends (held_until, UTC); digest: the id of that reply once queued.
    Column("held_until", Text),
    Column("digest", Text),
    # The unit credited now (storage.credit's rule), kept in step with the registry, the
    # decisions and the message's state by Credit.refresh_credit: the board reads it.
    Column("credit_unit", Text),
    # The earliest message with the same Message-ID but other content: a client that reuses
    # Message-IDs sent this as a new submission (see safetymonth.mailbox.content).
    Column("reuses", Integer),
    Index("messages_message_id", "message_id"),
    Index("messages_sha256", "sha256"),
    Index("messages_unit", "unit"),
    Index("messages_sender_domain", "sender_domain"),
    Index("messages_held", "held_until"),
    Index("messages_credit", "credit_unit", "received_at"),
)

# Every key a source has shown a message under (folder, re-delivery, new UIDVALIDITY).
source_keys = Table(
    "source_keys", metadata,
    Column("key", Text, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id"), nullable=False),
    Column("seen_at", Text, nullable=False),
)

attachments = Table(
    "attachments", metadata,
    Column("id", Integer, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("stored_name", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("content_type", Text),
    Column("verdict", Text, nullable=False),  # JSON: the validator's verdicts
    UniqueConstraint("message", "position"),
)

# One row per verdict (a zip has one per member), for the per-unit tally.
checks = Table(
    "checks", metadata,
    Column("id", Integer, primary_key=True),
    Column("attachment", Integer, ForeignKey("attachments.id"), nullable=False),
    Column("path", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("ok", Integer, nullable=False),
    # The attachment's message, and the identity of the content (its hash and, in a zip, the
    # member's name; see storage.credit.content_id): the tally reads only this index.
    Column("message", Integer),
    Column("content", BigInteger),
    # Its message's credit_unit and its judgement after decisions, kept in step the same way:
    # the tally is one scan of the checks_credit index.
    Column("credit_unit", Text),
    Column("judged_ok", Integer),
    # A zip member's position (validator.archive.member_at), by which downloads and export
    # find it: two members may share a name. NULL for an attachment that is no zip member.
    Column("member", Integer),
    # The deliverable (campaign.deliverables id) it counts for: the assignment rule, or an
    # assign decision on its content (storage.assignment). NULL: it counts for none.
    Column("deliverable", Text),
    Index("checks_attachment", "attachment"),
    Index("checks_tally", "message", "kind", "ok", "content"),
    Index("checks_content", "content"),
    Index("checks_credit", "credit_unit", "kind", "judged_ok", "content"),
    # The report's count per unit and deliverable (deliverable_counts): grouped in the
    # index's order, no table read (migration 0120).
    Index("checks_owed", "credit_unit", "deliverable", "judged_ok", "content", "message"),
)

# The outbox: replies and reminders, queued in the transaction that decided them.
replies = Table(
    "replies", metadata,
    Column("id", Text, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id")),
    Column("kind", Text, nullable=False),  # reply, digest, reminder or decision (a notice)
    Column("unit", Text),  # the unit's key (units[].id, else its name)
    Column("recipient", Text, nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("created_at", Text, nullable=False),
    Column("sent_at", Text),
    Column("claimed_by", Text),  # the worker handing it to the transport
    Index("replies_recipient", "recipient", "created_at"),
    Index("replies_state", "state"),
    Index("replies_message", "message", "state"),
)

# How far each source has read: an opaque string only the source understands (IMAP:
# UIDVALIDITY and the last UID).
source_cursors = Table(
    "source_cursors", metadata,
    Column("source", Text, primary_key=True),
    Column("cursor", Text, nullable=False),
)

# The unit registry of the current config (units[]), synced on open: credit is worked out
# from it at read time, so an address added to a unit credits that address's earlier mail.
registry_units = Table(
    "registry_units", metadata,
    Column("key", Text, primary_key=True),  # units[].id, else its name
    Column("name", Text, nullable=False),
    Column("position", Integer, nullable=False),
)

# An exact address or an "@domain", and the unit it belongs to (the first unit listing it).
registry_addresses = Table(
    "registry_addresses", metadata,
    Column("address", Text, primary_key=True),
    Column("unit", Text, nullable=False),
)

# Coordinators' decisions: the audit trail (who, when, why). An undone decision is kept,
# marked undone. ``message`` is the target of credit and add; ``file`` (a check row: one
# file or zip member) the target of accept and reject.
decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True),
    Column("action", Text, nullable=False),
    Column("message", Integer, ForeignKey("messages.id")),
    Column("file", Integer, ForeignKey("checks.id")),
    Column("content", BigInteger),  # the file's content id (checks.content)
    Column("unit", Text),
    Column("deliverable", Text),  # what an assign decision counts the file for
    Column("reason", Text, nullable=False),
    Column("by", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("undone_at", Text),
    Column("undone_by", Text),
    Index("decisions_message", "message"),
    Index("decisions_file", "file"),
    Index("decisions_content", "content"),
)

meta = Table(
    "meta", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text),
)

# What makes a message a duplicate, one row each, so that two processes recording the same
# message at once collide on a key instead of both inserting: its bytes, and its content (the
# message without its trace fields: the same message delivered twice; see
# safetymonth.mailbox.content). Not its Message-ID, which clients reuse for other messages.
message_digests = Table(
    "message_digests", metadata,
    Column("sha256", Text, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id"), nullable=False),
)
message_contents = Table(
    "message_contents", metadata,
    Column("content", Text, primary_key=True),
    Column("message", Integer, ForeignKey("messages.id"), nullable=False),
)

# Processes working on the store. A claim (messages.claimed_by, replies.claimed_by,
# source_locks.owner) counts only while its worker is alive: its heartbeat is recent, and on
# the same host its process still runs.
workers = Table(
    "workers", metadata,
    Column("owner", Text, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started", Text, nullable=False),  # the process's start time, against pid reuse
    Column("heartbeat_at", Text, nullable=False),
)

# One watching poll per source.
source_locks = Table(
    "source_locks", metadata,
    Column("source", Text, primary_key=True),
    Column("owner", Text, nullable=False),
)

# --- the console (web): its users, their sessions, failed logins ---------------------------

users = Table(
    "users", metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),  # admin | coordinator | viewer
    Column("password_hash", Text, nullable=False),  # argon2id, never the password
    Column("created_at", Text, nullable=False),
    # A user of one group (a 乡镇 or district bureau) sees only its units; NULL: every unit.
    Column("group", Text),
)

# A session is kept server-side, so logging out or removing a user ends it at once and every
# replica sees it; the cookie holds a random token, the table only its SHA-256.
sessions = Table(
    "sessions", metadata,
    Column("token_hash", Text, primary_key=True),
    Column("user", Text, ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
    Column("csrf", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    Index("sessions_user", "user"),
)

# Failed logins, in the database so that replicas throttle together.
login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True),
    Column("user", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("at", Text, nullable=False),
    Index("login_failures_user", "user", "at"),
    Index("login_failures_address", "address", "at"),
)

# --- upload links (tus): files too big for mail -------------------------------------------

# Every link issued; only the token's SHA-256 is kept (see safetymonth.uploads.links).
upload_links = Table(
    "upload_links", metadata,
    Column("token_hash", Text, primary_key=True),
    Column("nonce", Text, nullable=False),  # the token is derived from it and a key on disk
    Column("unit", Text, nullable=False),  # the unit's key
    Column("issued_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    Column("rotated_at", Text),  # a newer link replaced it: dead at once
    Index("upload_links_unit", "unit", "rotated_at"),
)

# One tus upload, from its creation until its file is a submission (message) or removed.
uploads = Table(
    "uploads", metadata,
    Column("id", Text, primary_key=True),  # also the partial file's name
    Column("unit", Text, nullable=False),
    Column("link", Text, nullable=False),  # upload_links.token_hash
    Column("length", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("name", Text, nullable=False),  # sanitised as attachment names are
    Column("state", Text, nullable=False),  # open, finished, done, failed, ended
    Column("created_at", Text, nullable=False),
    Column("touched_at", Text, nullable=False),
    Column("message", Integer, ForeignKey("messages.id")),
    Column("error", Text),
    Index("uploads_unit", "unit", "state"),
    Index("uploads_link", "link", "created_at"),
    Index("uploads_idle", "state", "touched_at"),
)
