"""Text in whatever charset a mail client wrote it: declared labels mapped to the codecs
clients really mean (gb2312 is gb18030), undeclared 8-bit bytes recovered (UTF-8, else GBK),
RFC 2047 words decoded. Nothing here raises on broken input."""

from __future__ import annotations

import codecs
import re
from email.header import decode_header

# Labels that clients write for text that is really GBK/GB18030.
CHARSET_ALIASES = {
    "gb2312": "gb18030", "gb_2312-80": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "cp936": "gb18030", "euc-cn": "gb18030", "x-euc-cn": "gb18030", "csgb2312": "gb18030",
    "big5": "big5hkscs", "ks_c_5601-1987": "cp949", "iso-8859-1": "cp1252",
    "us-ascii": "utf-8", "ascii": "utf-8", "unicode-1-1-utf-7": "utf-7",
}
SURROGATE = re.compile("[\udc80-\udcff]")  # undeclared 8-bit bytes, as the parser keeps them
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f]+")


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
