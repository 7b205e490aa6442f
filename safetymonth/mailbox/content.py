"""What makes two raw messages one submission: the same content, not the same Message-ID.

A client can give two different messages one Message-ID (some phones and webmails reuse one,
or never change it when a draft is sent again); treating them as one would drop the second
unanswered. A server that delivers one message twice (two folders, a retry, a forward into
the same mailbox) changes only its trace: the header fields that transport and delivery add
(RFC 5321 section 4.4 and RFC 5322 section 3.6.6, and the fields of delivery agents and spam
filters). The content digest is the SHA-256 of the message without those fields (the header
lines' ends made LF; the body as it is, hashed in place: normalising the line ends of a
25 MB body would cost more than half a second): byte-identical copies share it, and so do
copies that differ only in their trace, while a different message with a reused Message-ID
does not.
"""

from __future__ import annotations

import hashlib
import re

# Header fields that transport, delivery and filtering add or rewrite, by name (lowercase);
# a name ending in "-" stands for every field it begins.
TRACE = ("received", "return-path", "delivered-to", "x-original-to", "envelope-to",
         "x-envelope-to", "x-envelope-from", "x-delivered-to", "x-rcpt-to", "resent-",
         "authentication-results", "arc-", "received-spf", "x-spam-", "x-virus-",
         "x-rspamd-", "x-uid", "status", "x-status", "x-keywords", "x-mozilla-",
         "content-length", "lines", "x-forwarded-", "x-qq-", "x-cm-", "x-coremail-")
FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


def content_digest(raw: bytes) -> str:
    """The SHA-256 (hex) of ``raw`` without its trace fields."""
    end = _header_end(raw)
    digest = hashlib.sha256()
    keep = False
    for line in raw[:end].replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] not in (b" ", b"\t"):  # a new field (a folded line follows its own)
            found = FIELD_NAME.match(line)
            keep = not (found and _is_trace(found.group(1).decode("ascii").lower()))
        if keep:
            digest.update(line + b"\n")
    digest.update(memoryview(raw)[end:])  # no copy
    return digest.hexdigest()


def _is_trace(name: str) -> bool:
    return any(name.startswith(field) if field.endswith("-") else name == field
               for field in TRACE)


def _header_end(raw: bytes) -> int:
    """Where the header block's last line ends (the line end and the blank line after it
    count as the body's), or ``len(raw)`` when there is no body."""
    found = re.search(rb"\r?\n\r?\n", raw)
    return found.start() if found else len(raw)
