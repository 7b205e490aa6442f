"""A raw message in, the parts intake needs out: sender, subject, attachments, cloud links.

Chinese mail is the normal case: gb2312 labels are decoded as gb18030 (its superset, which
clients really write), undeclared 8-bit GBK names are recovered, RFC 2047 and RFC 2231 are both
read, every header is unfolded before it is read (:func:`raw_items`), and nothing here raises
on broken input: problems become ``defects``. Hostile structure
is bounded: the sender is parsed from the raw From header before its display name is decoded
(:func:`sender_of`), parts are read at most ``MAX_DEPTH`` deep, and an attached message sent
base64 or quoted-printable is decoded, not parsed as text (:class:`_Part`).

Memory and time stay flat for a large message: :func:`parse` reads the stream in chunks and
hands the ``email`` parser a *skeleton* of it, in which every long run of base64 lines (the
bodies of attached files) is replaced by one placeholder line that names where the run lies in
the stream. The parser therefore sees the same headers, boundaries and structure, but never
the megabytes of body text it would otherwise keep as a list of lines. An attachment's body is
decoded from the stream in chunks (:meth:`Attachment.chunks`); anything unusual (a placeholder
in a text part, an attached message, base64 with stray characters) gets the original text put
back and goes through the same tolerant decoding as before.
"""

from __future__ import annotations

import binascii
import codecs
import email.message
import email.utils
import functools
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import errors, policy
from email.header import decode_header
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser
from html import unescape
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from safetymonth.filenames import plain_name

# Labels that clients write for text that is really GBK/GB18030.
CHARSET_ALIASES = {
    "gb2312": "gb18030", "gb_2312-80": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "cp936": "gb18030", "euc-cn": "gb18030", "x-euc-cn": "gb18030", "csgb2312": "gb18030",
    "big5": "big5hkscs", "ks_c_5601-1987": "cp949", "iso-8859-1": "cp1252",
    "us-ascii": "utf-8", "ascii": "utf-8", "unicode-1-1-utf-7": "utf-7",
}
MAX_NAME_CHARS = 120
SURROGATE = re.compile("[\udc80-\udcff]")  # undeclared 8-bit bytes, as the parser keeps them
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f]+")
# Names Windows reserves whatever the extension: CON.jpg cannot be saved there.
RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)$", re.IGNORECASE)


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset; a wrong or unknown label falls back to UTF-8, then GB18030."""
    for candidate in _charset_candidates(charset):
        try:
            return clean(data.decode(candidate))
        except (LookupError, ValueError):  # ValueError: a NUL in the label; a bad byte
            continue
    return data.decode("gb18030", errors="replace")


def clean(text: str) -> str:
    """``text`` without lone surrogates, which some codecs (UTF-7, UTF-16) let through and
    which SQLite and every encoder refuse: each becomes "?"."""
    if text.isascii() or not LONE_SURROGATE.search(text):
        return text
    return text.encode("utf-8", errors="replace").decode("utf-8")


FOLD = re.compile(r"\r?\n(?=[ \t])")


def unfold(value: str) -> str:
    """A raw header value as RFC 5322 section 2.2.3 unfolds it: each line break followed by
    white space removed (the white space stays). Clients fold any line over 78 characters,
    often right after ``From:`` or between a display name and its address; the header
    parser cannot read an address list with the line breaks still in it."""
    return FOLD.sub("", value) if "\n" in value else value


def raw_items(part: email.message.Message) -> list[tuple[str, str]]:
    """A part's headers as written, names and values, each value unfolded: the one way this
    module reads a raw header."""
    return [(key, unfold(value)) for key, value in part.raw_items()]


def one_line(value: str) -> str:
    """A header value as one line of text: folds joined, and no CR, LF or other control
    character left (a decoded RFC 2047 word can hold a newline, which must never reach the
    headers of a reply)."""
    if value.isprintable():
        return value.strip()
    value = re.sub(r"\r?\n[ \t]+", " ", value)
    return clean(LINE_BREAKS.sub(" ", value)).strip()


def _charset_candidates(charset: str | None) -> list[str]:
    label = (charset or "").strip().strip('"').lower()
    if CONTROL.search(label) or not label.isascii():  # no codec has such a name
        label = ""
    mapped = CHARSET_ALIASES.get(label, label)
    candidates = [mapped] if mapped else []
    try:
        if mapped and codecs.lookup(mapped).name == "utf-8":
            return ["utf-8", "gb18030"]
    except LookupError:
        pass
    return [*candidates, "utf-8", "gb18030"]


def charset_alias(label: str) -> str:
    """The codec to decode text labelled ``label`` with (gb2312 -> gb18030...)."""
    return CHARSET_ALIASES.get(label.strip().lower(), label)


def recover_8bit(value: str) -> str:
    """Undeclared 8-bit header bytes (kept as surrogates by the parser): UTF-8, else GBK."""
    if value.isascii() or not SURROGATE.search(value):
        return value
    raw = value.encode("ascii", errors="surrogateescape")
    return decode_text(raw, None)


def decode_words(value: str) -> str:
    """An RFC 2047 header value (or a filename using it), with charset aliases applied."""
    value = recover_8bit(value)
    if "=?" not in value:
        return value
    try:
        parts = decode_header(value)
    except Exception:  # a broken encoded word stays as written
        return value
    return "".join(text if isinstance(text, str) else decode_text(text, charset)
                   for text, charset in parts)


def param(raw_header: str, name: str) -> str | None:
    """A parameter of a raw structured header, RFC 2231 continuations and charsets included."""
    holder = email.message.Message()
    holder["X"] = recover_8bit(unfold(raw_header))
    try:
        value = holder.get_param(name, header="x")
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, latin-1 text of the bytes)
        charset, _, text = value
        try:
            return decode_text(text.encode("latin-1"), charset)
        except UnicodeEncodeError:
            return clean(text)
    return decode_words(email.utils.unquote(str(value)))


def safe_name(name: str | None, position: int) -> str:
    """A display name without paths, control characters, reserved words or excess length.

    The name is only shown and used for the extension check; files are stored by hash.
    """
    text = plain_name(CONTROL.sub("", name or "")).replace("\\", "/")
    text = text.split("/")[-1].strip().strip(".").strip()
    stem, suffix = PurePosixPath(text).stem, PurePosixPath(text).suffix
    if len(suffix) > 10:
        stem, suffix = text, ""
    if RESERVED.match(stem):
        stem = f"_{stem}"
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    return f"{stem}{suffix}" if stem else f"附件{position + 1}{suffix}"


# A run of at least this many bytes of base64 lines is left out of the skeleton.
RUN_MIN_BYTES = 16 * 1024
SCAN_CHUNK = 1024 * 1024
BASE64_LINES = re.compile(rb"^(?:[A-Za-z0-9+/]{16,}\r?\n)+", re.MULTILINE)
BASE64_CLEAN = re.compile(r"[A-Za-z0-9+/]*")
BASE64_END = re.compile(r"[A-Za-z0-9+/]*={0,2}")
WHITESPACE = re.compile(r"[ \t\r\n]+")
HEADER_END = re.compile(rb"(?:\A|\n)\r?\n")


class Runs:
    """Where the runs left out of a skeleton lie in the original stream.

    A placeholder is a random token (unguessable, so no message can forge one) and the run's
    index; it stands for the run's bytes up to, not including, its last line ending."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.token = secrets.token_hex(16)
        self.spans: list[tuple[int, int]] = []  # (offset, length)

    def placeholder(self, offset: int, length: int) -> bytes:
        self.spans.append((offset, length))
        return f"{self.token}{len(self.spans) - 1:08d}".encode()

    def read(self, index: int) -> Iterator[bytes]:
        offset, length = self.spans[index]
        self.stream.seek(offset)
        while length > 0:
            chunk = self.stream.read(min(SCAN_CHUNK, length))
            if not chunk:
                raise OSError("the stored message is shorter than when it was parsed")
            length -= len(chunk)
            yield chunk

    def split(self, text: str) -> list[str]:
        """``text`` cut at its placeholders: text, index, text, index, ..., text."""
        first, *rest = text.split(self.token)
        pieces = [first]
        for piece in rest:
            pieces += [piece[:8], piece[8:]]
        return pieces

    def restore(self, text: str) -> str:
        """``text`` with every placeholder replaced by the run it stands for."""
        if self.token not in text:
            return text
        pieces = self.split(text)
        for at in range(1, len(pieces), 2):
            pieces[at] = b"".join(self.read(int(pieces[at]))).decode("ascii")
        return "".join(pieces)

    def base64_chunks(self, text: str) -> Iterator[bytes] | None:
        """The decoded bytes of base64 ``text`` that contains placeholders, in chunks, when
        it is clean (only base64 characters and line breaks, padding only at its end), so
        that decoding it piecewise gives what decoding it whole would. Else None."""
        pieces = self.split(text)
        cleaned = [WHITESPACE.sub("", piece) for piece in pieces[::2]]
        if not all(BASE64_CLEAN.fullmatch(piece) for piece in cleaned[:-1]) or \
                not BASE64_END.fullmatch(cleaned[-1]):
            return None
        return self._decode(cleaned, [int(index) for index in pieces[1::2]])

    def _decode(self, cleaned: list[str], indexes: list[int]) -> Iterator[bytes]:
        carry = b""
        for piece, index in zip(cleaned, [*indexes, None], strict=True):
            carry += piece.encode("ascii")
            if index is None:
                break
            for chunk in self.read(index):
                data = carry + chunk.translate(None, b"\r\n")
                whole = len(data) // 4 * 4
                if whole:
                    yield binascii.a2b_base64(data[:whole])
                carry = data[whole:]
        if carry:
            yield binascii.a2b_base64(carry)  # raises on bad padding, like a whole decode


def skeleton(stream: BinaryIO, runs: Runs) -> bytes:
    """The stream, read in chunks, with each long run of base64 lines in the body replaced by
    a placeholder line (see :class:`Runs`). The top-level header block is copied as is."""
    out: list[bytes] = []
    base = 0  # stream offset of buffer[0]
    buffer = b""
    start = end = -1  # the run being extended, as stream offsets (start < 0: none)
    kept: list[bytes] = []  # its bytes while it is still too short to leave out
    ending = b"\n"
    in_headers, mid_line = True, False

    def close_run() -> None:
        nonlocal start
        if end - start >= RUN_MIN_BYTES:
            out.append(runs.placeholder(start, end - start - len(ending)) + ending)
        else:
            out.extend(kept)
        kept.clear()
        start = -1

    while True:
        chunk = stream.read(SCAN_CHUNK)
        buffer += chunk
        cut = len(buffer) if not chunk else buffer.rfind(b"\n") + 1
        if cut == 0 and chunk and len(buffer) < 4 * SCAN_CHUNK:
            continue  # no line ends yet: read on
        if cut == 0:  # a line longer than 4 MiB is never a run: pass it on as text
            cut = len(buffer)
        region = buffer[:cut]
        search_from = 0
        if mid_line:  # the region starts inside a line: runs begin after its end
            search_from = region.find(b"\n") + 1 or len(region)
        if in_headers:
            blank = HEADER_END.search(region, search_from)
            search_from = blank.end() if blank else len(region)
            in_headers = blank is None
        position = 0  # of region, up to which output has been produced
        for found in BASE64_LINES.finditer(region, search_from):
            if not (start >= 0 and found.start() == 0 and end == base):
                if start >= 0:  # not a continuation of the open run
                    close_run()
                out.append(region[position:found.start()])
                start = base + found.start()
            end = base + found.end()
            ending = b"\r\n" if region[found.end() - 2:found.end()] == b"\r\n" else b"\n"
            if end - start < RUN_MIN_BYTES:
                kept.append(found.group())
            else:
                kept.clear()
            position = found.end()
        if start >= 0 and end != base + len(region):
            close_run()
        out.append(region[position:])
        mid_line = not region.endswith(b"\n")
        base += len(region)
        buffer = buffer[cut:]
        if not chunk and not buffer:
            break
    if start >= 0:
        close_run()
    return b"".join(out)


@dataclass
class Attachment:
    """One attached file; the payload is decoded only when asked for, to keep memory flat."""

    position: int
    name: str
    content_type: str
    part: EmailMessage
    runs: Runs | None = None

    def payload(self) -> bytes:
        """The decoded file, whole in memory."""
        if self.part.get_content_maintype() == "message":
            body = self.part.get_payload()
            if isinstance(body, list) and body:  # an attached message, or the field blocks
                data = b"".join(bytes(item) for item in body)  # of a report's status part
                if self.runs is not None and self.runs.token.encode() in data:
                    data = self.runs.restore(data.decode("ascii", "surrogateescape")) \
                        .encode("ascii", "surrogateescape")
                return data
        _restore_part(self.part, self.runs)
        return decode_payload(self.part)

    def chunks(self) -> Iterator[bytes]:
        """The decoded file in pieces, straight from the stream where that is safe.

        May raise ``ValueError`` (bad base64 padding) after yielding: then call
        :meth:`payload`, which decodes tolerantly."""
        payload = self.part.get_payload()
        if self.runs is not None and isinstance(payload, str) and self.runs.token in payload \
                and self.part.get_content_maintype() != "message" and _cte(self.part) == "base64":
            pieces = self.runs.base64_chunks(payload)
            if pieces is not None:
                return pieces
        return iter((self.payload(),))


def _cte(part: EmailMessage) -> str:
    return str(dict(raw_items(part)).get("Content-Transfer-Encoding", "")).strip().lower()


def _restore_part(part: EmailMessage, runs: Runs | None) -> None:
    """Put the original text back in place of the placeholders of a leaf part."""
    payload = part.get_payload()
    if runs is not None and isinstance(payload, str) and runs.token in payload:
        part.set_payload(runs.restore(payload))


def decode_payload(part: EmailMessage) -> bytes:
    """The decoded body of a leaf part. Base64 is decoded in one pass over the parsed text
    (email's own decoder splits it into lines first, several copies of a large file);
    anything unusual falls back to the email package's tolerant decoder."""
    payload = part.get_payload()
    if _cte(part) == "base64" and isinstance(payload, str):
        try:
            return binascii.a2b_base64(payload)  # skips line breaks
        except (binascii.Error, ValueError):
            pass
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


@dataclass
class CloudLink:
    """A "超大附件" (163/126/QQ cloud attachment): a link, not a file we can fetch."""

    name: str
    url: str


@dataclass
class ReportPart:
    """A machine report's status part (message/delivery-status, .../disposition-notification,
    .../feedback-report): its blocks of fields, names lowercased (a DSN has one block for the
    message and one per recipient)."""

    content_type: str
    blocks: list[dict[str, str]]


@dataclass
class ParsedMail:
    headers: list[tuple[str, str]]
    message_id: str | None = None
    sender: str | None = None
    sender_name: str = ""
    sender_problem: str | None = None  # why no reply can go to the From (no address, several)
    subject: str = ""
    date: str | None = None
    references: str = ""
    text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    cloud_links: list[CloudLink] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    report_type: str = ""  # the report-type of a multipart/report message
    reports: list[ReportPart] = field(default_factory=list)
    embedded_ids: list[str] = field(default_factory=list)  # of attached messages / headers

    def get(self, name: str) -> str | None:
        """The first (topmost) value of a header, decoded."""
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]


class _MimeHeader(str):
    """A MIME header as the text it holds. The email package reads these (the type, the
    parameters, the boundary) as strings in any case; we read names and charsets from the raw
    values ourselves (:func:`param`), so policy.default's parse tree would be wasted work.
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
        return getattr(_FULL_HEADERS(self.name, str(self)), attribute)


_FULL_HEADERS = HeaderRegistry()


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


class _Part(EmailMessage):
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
        encoded = maintype == "message" and _cte(self) in ENCODED
        if maintype in ("multipart", "message") and (self.depth >= MAX_DEPTH or encoded):
            return "application"  # a leaf: read as text, decoded as any attachment
        return maintype

    @property
    def too_deep(self) -> bool:
        """A structure at the depth limit, left unread."""
        return self.depth >= MAX_DEPTH and \
            super().get_content_maintype() in ("multipart", "message")


POLICY = policy.default.clone(header_factory=_CachedHeaders(), message_factory=_Part)


def parse_headers(raw: bytes) -> ParsedMail:
    """Only the header block: cheap, for duplicate checks before the body is read.

    The block is cut out first: ``headersonly=True`` would still read and keep the body.
    """
    end = header_end(raw)
    block = raw[:end] if end else raw
    message = BytesParser(policy=POLICY).parsebytes(block, headersonly=True)
    return _header_fields(message)


def parse(stream: BinaryIO) -> ParsedMail:
    """The whole message: headers, body text, attachments and cloud-attachment links.

    ``stream`` must stay open while the attachments' bodies are read."""
    runs = Runs(stream)
    message = BytesParser(policy=POLICY).parsebytes(skeleton(stream, runs))
    mail = _header_fields(message)
    mail.defects += [type(defect).__name__ for defect in message.defects]
    html: list[str] = []
    for part in _leaves(message):
        _take_part(mail, part, html, runs)
    mail.cloud_links = find_cloud_links(mail.text, "\n".join(html))
    return mail


def header_end(raw: bytes) -> int:
    """Where the blank line that ends the header block starts (0 when ``raw`` has none)."""
    crlf = raw.find(b"\n\r\n")
    lf = raw.find(b"\n\n", 0, crlf if crlf >= 0 else len(raw))  # only before a CRLF end
    ends = [found + 1 for found in (lf, crlf) if found >= 0]
    return min(ends) if ends else 0


def _header_fields(message: EmailMessage) -> ParsedMail:
    raw = raw_items(message)
    headers = [(key, one_line(decode_words(value))) for key, value in raw]
    mail = ParsedMail(headers=headers)
    mail.message_id = message_id_of(mail.get("Message-ID"))
    mail.subject = mail.get("Subject") or ""
    mail.date = mail.get("Date")
    mail.references = " ".join(filter(None, [mail.get("References")]))
    raw_from = next((value for key, value in raw if key.lower() == "from"), None)
    mail.sender_name, mail.sender, mail.sender_problem = sender_of(raw_from)
    content_type = next((value for key, value in raw if key.lower() == "content-type"), "")
    if content_type.strip().lower().startswith("multipart/report"):
        mail.report_type = (param(content_type, "report-type") or "").strip().lower()
    return mail


MAX_MESSAGE_ID = 250


def message_id_of(value: str | None) -> str | None:
    """The ``<id>`` of a Message-ID-like header; None for one longer than a header line
    allows to quote (it could not be put in a reply's In-Reply-To)."""
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", value)
    text = found.group(0) if found else value.strip()
    return text if 0 < len(text) <= MAX_MESSAGE_ID else None


# One address a reply can go to: a dot-atom local part (no quoting, no spaces) at a host
# name, in ASCII, at most 254 characters (RFC 5321).
ADDR_SPEC = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*")
MAX_ADDRESS = 254
MAX_DISPLAY_NAME = 200
ANGLE_ADDR = re.compile(r"<([^<>]*)>")
ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*]*)([*?])")


def sender_of(raw: str | None) -> tuple[str, str | None, str | None]:
    """(display name, address, why no reply can go to it) of a raw From header.

    The address is parsed from the raw header first (``email.headerregistry``), and only
    then is the display name decoded: an RFC 2047 name that decodes to a comma or quotes
    ("张三, 办公室") can then neither split the address list nor hide the address. Of a From
    with several addresses the first is the sender, and the reason says there are several
    (nobody is answered then); a From without a valid first address gives none."""
    if raw is None or not raw.strip():
        return "", None, None
    text = ENCODED_WORD_CHARSET.sub(
        lambda found: f"=?{charset_alias(found.group(1))}{found.group(2)}",
        recover_8bit(unfold(raw)))
    shown = one_line(text)[:80]
    try:
        header = _FULL_HEADERS("From", text)
        addresses = header.addresses
    except Exception:  # e.g. IndexError on "a@", RecursionError on deeply nested comments
        return "", None, f"unreadable From: {shown!r}"
    several = f"{len(addresses)} addresses in From: {shown!r}"
    if not addresses:
        return "", None, several
    address = addresses[0].addr_spec.strip().lower()
    invalid = any(isinstance(defect, errors.InvalidHeaderDefect) for defect in header.defects)
    if len(address) > MAX_ADDRESS or not ADDR_SPEC.fullmatch(address) or \
            (invalid and (len(addresses) > 1 or not _only_address(text, address))):
        return "", None, f"no single valid address in From: {shown!r}"
    try:
        shown_name = _display_name(header, addresses[0].addr_spec)
    except RecursionError:  # comments nested nearly as deep as the parser could read
        shown_name = str(addresses[0].display_name)
    name = plain_name(one_line(recover_8bit(shown_name)))[:MAX_DISPLAY_NAME]
    return name, address, several if len(addresses) > 1 else None


def _display_name(header: Any, addr_spec: str) -> str:
    """The decoded display name of the mailbox ``addr_spec`` in a parsed address header.
    Python 3.11's parser keeps the white space between two adjacent RFC 2047 words ("德化
    县"), which RFC 2047 section 6.2 says to drop: a long Chinese name, written as several
    words, would gain spaces. So the name is put together again from its tokens."""
    tree = getattr(header, "_parse_tree", None)
    mailbox = next((found for found in getattr(tree, "mailboxes", [])
                    if getattr(found, "addr_spec", None) == addr_spec), None)
    display = getattr(mailbox, "display_name", None)
    if mailbox is None or not display:
        return str(header.addresses[0].display_name)
    phrase = next((token for token in _walk(mailbox) if token.token_type == "display-name"),
                  None)
    if phrase is None:
        return str(display)
    words: list[tuple[str, bool]] = []  # (text, is an encoded word); " " for white space
    for token in _words(phrase):
        if token.token_type == "cfws":  # with a comment in it, two words are not adjacent
            commented = any(part.token_type == "comment" for part in _walk(token))
            if words and words[-1][0] != " ":
                words.append((" ", False))
            if commented:
                words.append(("", False))
        else:
            words.append((str(token.value), token.token_type == "encoded-word"))
    kept = [text for at, (text, _) in enumerate(words) if text != " " or not (
        0 < at < len(words) - 1 and words[at - 1][1] and words[at + 1][1])]
    return "".join(kept).strip()


def _walk(token: Any) -> Iterator[Any]:
    yield token
    if isinstance(token, list):
        for child in token:
            yield from _walk(child)


def _words(phrase: Any) -> Iterator[Any]:
    """The words and white space of a phrase, in order: atoms and quoted strings are opened
    one level (their own leading and trailing white space is separate)."""
    for word in phrase:
        if word.token_type in ("atom", "quoted-string") and isinstance(word, list):
            yield from word
        else:
            yield word


def _only_address(text: str, address: str) -> bool:
    """A From the parser found fault with still names one address beyond doubt: one
    ``<address>``, and no other address beside it (``a@b.cn <a@b.cn>`` is one address)."""
    angles = ANGLE_ADDR.findall(text)
    if len(angles) != 1 or angles[0].strip().lower() != address:
        return False
    rest = ANGLE_ADDR.sub(" ", text)
    return all(word.strip("\"'").lower() == address for word in re.findall(r"\S*@\S*", rest))


def _leaves(part: EmailMessage) -> Iterator[EmailMessage]:
    """Non-multipart parts in order; an attached message is one leaf, not opened."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else []:
            yield from _leaves(child)
    else:
        yield part


def _take_part(mail: ParsedMail, part: EmailMessage, html: list[str], runs: Runs) -> None:
    if isinstance(part, _Part) and part.too_deep and part.get_content_maintype() != "message":
        mail.defects.append(TOO_DEEP)  # a multipart nested too deep: its parts stay unread
        return
    content_type = clean(recover_8bit(part.get_content_type()))
    if content_type in REPORT_PARTS:  # read for the report, and kept as a file too
        mail.reports.append(ReportPart(content_type, _report_blocks(part)))
    if content_type in EMBEDDED_HEADERS and mail.report_type:
        _take_embedded_id(mail, part, runs)
    raw = {key.lower(): value for key, value in reversed(raw_items(part))}
    disposition = raw.get("content-disposition", "")
    filename = (param(disposition, "filename") if disposition else None) or \
        (param(raw["content-type"], "name") if "content-type" in raw else None)
    inline_text = content_type in ("text/plain", "text/html") and not filename and \
        not disposition.strip().lower().startswith("attachment")
    if inline_text:
        _restore_part(part, runs)
        text = _text_of(part, mail)
        if content_type == "text/html":
            html.append(text)
        else:
            mail.text += text
        return
    if not filename:
        filename = UNNAMED.get(content_type)
    position = len(mail.attachments)
    mail.attachments.append(
        Attachment(position, safe_name(filename, position), content_type, part, runs))


TOO_DEEP = "NestingTooDeep"
# The names of unnamed parts a clerk opens as a file: an attached message, a report's status.
UNNAMED = {"message/rfc822": "邮件.eml", "message/global": "邮件.eml",
           "message/delivery-status": "投递状态.txt",
           "message/global-delivery-status": "投递状态.txt",
           "message/disposition-notification": "阅读回执.txt",
           "message/global-disposition-notification": "阅读回执.txt",
           "message/feedback-report": "投诉报告.txt",
           "text/rfc822-headers": "邮件头.txt", "message/global-headers": "邮件头.txt"}
# The status parts of machine reports: DSNs (RFC 3464, 6533), MDNs (RFC 8098), ARF (RFC 5965).
REPORT_PARTS = frozenset({"message/delivery-status", "message/global-delivery-status",
                          "message/disposition-notification",
                          "message/global-disposition-notification", "message/feedback-report"})
# Parts that carry the headers of a message a report is about.
EMBEDDED_HEADERS = frozenset({"message/rfc822", "message/global", "text/rfc822-headers",
                              "message/global-headers"})
MAX_FIELD = 500


def _report_blocks(part: EmailMessage) -> list[dict[str, str]]:
    """The field blocks of a report part, as the parser reads them (each a headers-only
    part; a delivery-status part holds one per blank-line-separated block)."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    return [{key.lower(): one_line(decode_words(value))[:MAX_FIELD]
             for key, value in raw_items(block)} for block in blocks]


def _take_embedded_id(mail: ParsedMail, part: EmailMessage, runs: Runs) -> None:
    """The Message-ID of an attached message or header block (a bounce quotes ours)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        value = next((value for message in payload[:1] for key, value in raw_items(message)
                      if key.lower() == "message-id"), None)
        found = message_id_of(one_line(decode_words(value))) if value else None
    else:
        _restore_part(part, runs)
        found = parse_headers(decode_payload(part)).message_id
    if found:
        mail.embedded_ids.append(found)


def _text_of(part: EmailMessage, mail: ParsedMail) -> str:
    data = part.get_payload(decode=True)
    mail.defects += [type(defect).__name__ for defect in part.defects]
    if not isinstance(data, bytes):
        return ""
    charset = param(dict(raw_items(part)).get("Content-Type", ""), "charset")
    return decode_text(data, charset)


# Download pages of cloud attachments: 163/126/yeah.net "超大附件" and QQ Mail 中转站 (ftn).
CLOUD_URL = re.compile(
    r"https?://[^\s\"'<>]*(?:large-?attachment|fs\.163\.com|dashi\.163\.com|"
    r"ftn(?:Exs)?_?download|wx\.mail\.qq\.com/ftn|mail\.qq\.com/cgi-bin/ftnExs|"
    r"ftn\.qq\.com|qiye\.163\.com/[^\s\"'<>]*attach)[^\s\"'<>]*", re.IGNORECASE)
ANCHOR = re.compile(r"<a\b[^>]*href=[\"']([^\"']+)[\"'][^>]*>(.*?)</a>",
                    re.IGNORECASE | re.DOTALL)


def find_cloud_links(text: str, html: str) -> list[CloudLink]:
    """Cloud-attachment links in the body, with the file name when the HTML shows it."""
    found: dict[str, str] = {}
    for url, label in ANCHOR.findall(html):
        url = unescape(url)
        if CLOUD_URL.match(url):
            found.setdefault(url, _plain(label))
    for url in CLOUD_URL.findall(text + "\n" + html):
        found.setdefault(unescape(url), "")
    if not found and "超大附件" in text + html:
        found["(超大附件)"] = ""
    return [CloudLink(plain_name(name), url) for url, name in found.items()]


def _plain(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html))).strip()[:MAX_NAME_CHARS]
