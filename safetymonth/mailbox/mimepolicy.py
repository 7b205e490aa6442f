"""The email policy intake parses with: hostile structure bounded (parts read at most
``MAX_DEPTH`` deep, an attached message sent base64 or quoted-printable decoded, not parsed:
:class:`Part`) and headers parsed once, not on every access."""

from __future__ import annotations

import functools
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from typing import Any

from safetymonth.mailbox.charsets import clean, recover_8bit
from safetymonth.mailbox.headers import FULL_HEADERS, transfer_encoding


class _MimeHeader(str):
    """A MIME header as the text it holds. The email package reads these (the type, the
    parameters, the boundary) as strings in any case; we read names and charsets from the raw
    values ourselves (:func:`.headers.param`), so policy.default's parse tree would be wasted work.
    Anything else a policy.default header offers (``fold``, ``params``...) is answered by
    parsing it then, with policy.default's own header class."""

    name: str
    defects: tuple[object, ...]

    def __new__(cls, name: str, value: str) -> _MimeHeader:
        header = super().__new__(cls, value)
        header.name = name
        header.defects = ()
        return header

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(FULL_HEADERS(self.name, str(self)), attribute)


# Parsing a structured MIME header with policy.default costs ~0.2 ms, and a multipart's
# Content-Type is unique to each message (its boundary): the cache below never hits it.
PLAIN_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})


class _CachedHeaders(HeaderRegistry):
    """policy.default re-parses a header on every access (get_content_type() alone runs
    several times per part); identical raw values parse to identical objects, so cache them.
    The MIME structure headers are kept as plain text (:class:`_MimeHeader`)."""

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one registry for the process)
    def __call__(self, name: str, value: str) -> BaseHeader:  # type: ignore[override]
        if name.lower() in PLAIN_HEADERS:
            return _MimeHeader(name, value)  # type: ignore[return-value]
        return super().__call__(name, value)


# Parts inside parts read at most this deep; what lies deeper is one unread leaf. The email
# package's parser recurses once per level and hits Python's recursion limit near 1,000.
MAX_DEPTH = 64
# Transfer encodings RFC 2046 forbids on message/*, which common mailers use anyway.
ENCODED = frozenset({"base64", "quoted-printable"})


class Part(EmailMessage):
    """A part as the parser builds it, with two guards the email package lacks:

    - a ``multipart/*`` or ``message/*`` part nested ``MAX_DEPTH`` deep is read as a leaf
      (its text is kept, not parsed), so a message nested a thousand times cannot exhaust the
      parser's recursion;
    - a ``message/*`` part with a base64 or quoted-printable transfer encoding is a leaf
      too, so that its body is decoded (to the attached message itself) rather than parsed
      as a message whose text is base64.

    The parser asks :meth:`get_content_maintype` whether to descend, and :meth:`attach` is
    how it links a new part to its parent, before reading the part's headers."""

    depth = 0

    def set_raw(self, name: str, value: Any) -> None:
        """A MIME header as the parser found it, except that undeclared 8-bit bytes in a
        leaf's structure headers are decoded (:func:`recover_8bit`: UTF-8, else GB18030, else
        replaced): the email package itself reads their parameters (``charset="\\xff"``) and
        would raise on a byte it cannot name. A multipart's boundary stays as written, to
        match its body's lines."""
        if name.lower() in PLAIN_HEADERS and isinstance(value, str) and not value.isascii() \
                and not value.lstrip().lower().startswith("multipart/"):
            value = clean(recover_8bit(value))
        super().set_raw(name, value)

    def attach(self, payload: Any) -> None:
        payload.depth = self.depth + 1
        super().attach(payload)

    def get_content_maintype(self) -> str:
        maintype = super().get_content_maintype()
        encoded = maintype == "message" and transfer_encoding(self) in ENCODED
        if maintype in ("multipart", "message") and (self.depth >= MAX_DEPTH or encoded):
            return "application"  # a leaf: read as text, decoded as any attachment
        return maintype

    @property
    def too_deep(self) -> bool:
        """A structure at the depth limit, left unread."""
        return self.depth >= MAX_DEPTH and \
            super().get_content_maintype() in ("multipart", "message")


POLICY = policy.default.clone(header_factory=_CachedHeaders(), message_factory=Part)
