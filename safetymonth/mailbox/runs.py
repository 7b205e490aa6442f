"""Memory and time stay flat for a large message: :func:`skeleton` reads the stream in chunks
and hands the ``email`` parser a copy of it in which every long run of base64 lines (the
bodies of attached files) is replaced by one placeholder line that names where the run lies in
the stream (:class:`Runs`). The parser therefore sees the same headers, boundaries and
structure, but never the megabytes of body text it would otherwise keep as a list of lines."""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Iterator
from typing import BinaryIO

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
