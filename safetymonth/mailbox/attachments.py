"""Attached files: a safe name to show, and the decoded body, read from the stream in
chunks (:meth:`Attachment.chunks`) where that is safe; anything unusual (a placeholder in a
text part, an attached message, base64 with stray characters) gets the original text put back and
goes through the email package's tolerant decoding."""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import PurePosixPath

from safetymonth.filenames import plain_name
from safetymonth.mailbox.charsets import CONTROL
from safetymonth.mailbox.headers import transfer_encoding
from safetymonth.mailbox.runs import Runs

MAX_NAME_CHARS = 120
# Names Windows reserves whatever the extension: CON.jpg cannot be saved there.
RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)$", re.IGNORECASE)


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
        restore_part(self.part, self.runs)
        return decode_payload(self.part)

    def chunks(self) -> Iterator[bytes]:
        """The decoded file in pieces, straight from the stream where that is safe.

        May raise ``ValueError`` (bad base64 padding) after yielding: then call
        :meth:`payload`, which decodes tolerantly."""
        payload = self.part.get_payload()
        if self.runs is not None and isinstance(payload, str) and self.runs.token in payload \
                and self.part.get_content_maintype() != "message" \
                and transfer_encoding(self.part) == "base64":
            pieces = self.runs.base64_chunks(payload)
            if pieces is not None:
                return pieces
        return iter((self.payload(),))

def restore_part(part: EmailMessage, runs: Runs | None) -> None:
    """Put the original text back in place of the placeholders of a leaf part."""
    payload = part.get_payload()
    if runs is not None and isinstance(payload, str) and runs.token in payload:
        part.set_payload(runs.restore(payload))


def decode_payload(part: EmailMessage) -> bytes:
    """The decoded body of a leaf part. Base64 is decoded in one pass over the parsed text
    (email's own decoder splits it into lines first, several copies of a large file);
    anything unusual falls back to the email package's tolerant decoder."""
    payload = part.get_payload()
    if transfer_encoding(part) == "base64" and isinstance(payload, str):
        try:
            return binascii.a2b_base64(payload)  # skips line breaks
        except (binascii.Error, ValueError):
            pass
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""
