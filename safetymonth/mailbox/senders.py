"""Who sent a message: the one address a reply can go to, read from the raw From header
before its display name is decoded (:func:`sender_of`), and the display name as the clerk
should see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import errors
from typing import Any

from safetymonth.filenames import plain_name
from safetymonth.mailbox.charsets import charset_alias, recover_8bit
from safetymonth.mailbox.headers import FULL_HEADERS, one_line, unfold

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
        header = FULL_HEADERS("From", text)
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
