"""Raw header values as the rest of intake reads them: unfolded (RFC 5322 2.2.3) before
they are read, joined to one line, their RFC 2231 parameters, Message-IDs and the end of the
header block."""

from __future__ import annotations

import email.message
import email.utils
import re
from email.headerregistry import HeaderRegistry

from safetymonth.mailbox.charsets import (
    LINE_BREAKS,
    clean,
    decode_text,
    decode_words,
    recover_8bit,
)

# policy.default's own header classes, for what is parsed in full (From, a MIME header asked
# for more than its text).
FULL_HEADERS = HeaderRegistry()


FOLD = re.compile(r"\r?\n(?=[ \t])")


def unfold(value: str) -> str:
    """A raw header value as RFC 5322 section 2.2.3 unfolds it: each line break followed by
    white space removed (the white space stays). Clients fold any line over 78 characters,
    often right after ``From:`` or between a display name and its address; the header
    parser cannot read an address list with the line breaks still in it."""
    return FOLD.sub("", value) if "\n" in value else value


def raw_items(part: email.message.Message) -> list[tuple[str, str]]:
    """A part's headers as written, names and values, each value unfolded: the one way intake
    reads a raw header."""
    return [(key, unfold(value)) for key, value in part.raw_items()]


def one_line(value: str) -> str:
    """A header value as one line of text: folds joined, and no CR, LF or other control
    character left (a decoded RFC 2047 word can hold a newline, which must never reach the
    headers of a reply)."""
    if value.isprintable():
        return value.strip()
    value = re.sub(r"\r?\n[ \t]+", " ", value)
    return clean(LINE_BREAKS.sub(" ", value)).strip()


def transfer_encoding(part: email.message.Message) -> str:
    """A part's Content-Transfer-Encoding as written, lowercased ("" when it has none)."""
    return str(dict(raw_items(part)).get("Content-Transfer-Encoding", "")).strip().lower()


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


def header_end(raw: bytes) -> int:
    """Where the blank line that ends the header block starts (0 when ``raw`` has none)."""
    crlf = raw.find(b"\n\r\n")
    lf = raw.find(b"\n\n", 0, crlf if crlf >= 0 else len(raw))  # only before a CRLF end
    ends = [found + 1 for found in (lf, crlf) if found >= 0]
    return min(ends) if ends else 0


MAX_MESSAGE_ID = 250


def message_id_of(value: str | None) -> str | None:
    """The ``<id>`` of a Message-ID-like header; None for one longer than a header line
    allows to quote (it could not be put in a reply's In-Reply-To)."""
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", value)
    text = found.group(0) if found else value.strip()
    return text if 0 < len(text) <= MAX_MESSAGE_ID else None
