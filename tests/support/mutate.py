"""Deterministic mutators for fuzzing: the smoke test (tests/validator/test_fuzz_smoke.py) and
the longer campaigns (bench/fuzz.py) use the same ones.

Media mutations aim at the headers and indexes, where parsers make their decisions: most land
in the first or last 4 KB (an MP4's ``moov`` sits at either end), the rest anywhere. Mail
mutations aim at the header and the MIME structure. The same ``random.Random`` seed always
gives the same bytes; ``sample_mail`` gives the real messages the mail mutations start from.
"""

from __future__ import annotations

import random
import re

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media

HOT = 4096  # bytes at each end of a file where the headers and indexes live
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF)  # boundary values for sizes, counts, versions


def _offset(rng: random.Random, size: int) -> int:
    roll = rng.random()
    if roll < 0.45:
        return rng.randrange(min(size, HOT))
    if roll < 0.7:
        return size - 1 - rng.randrange(min(size, HOT))
    return rng.randrange(size)


def mutate_media(data: bytes, rng: random.Random) -> bytes:
    """A few byte-level faults: flips, boundary values, a 32-bit size overwritten, a cut, a
    repeated or removed span."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8))):
        if not out:
            break
        at = _offset(rng, len(out))
        kind = rng.random()
        if kind < 0.4:
            out[at] ^= 1 << rng.randrange(8)
        elif kind < 0.65:
            out[at] = rng.choice(INTERESTING)
        elif kind < 0.8:
            out[at:at + 4] = rng.choice((0, 7, 0x7FFFFFFF, 0xFFFFFFFF, rng.getrandbits(32))
                                        ).to_bytes(4, "big")
        elif kind < 0.88:
            del out[at:]
        elif kind < 0.94:
            span = out[at:at + rng.randrange(1, 256)]
            out[at:at] = span * rng.randrange(1, 4)
        else:
            del out[at:at + rng.randrange(1, 256)]
    return bytes(out)


def mutate_mail(data: bytes, rng: random.Random) -> bytes:
    """Faults a mail parser meets in the wild: bytes flipped in the header, NUL and raw 8-bit
    bytes, lines repeated or dropped (boundaries among them), deep nesting, a cut body."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for _ in range(rng.choice((1, 2, 3))):
        kind = rng.random()
        index = rng.randrange(len(lines))
        if kind < 0.3:
            line = bytearray(lines[index])
            if line:
                line[rng.randrange(len(line))] = rng.choice((0x00, 0x0D, 0x22, 0x3B, 0xA1,
                                                             0xFF, rng.randrange(256)))
            lines[index] = bytes(line)
        elif kind < 0.45:
            lines.insert(index, lines[index])
        elif kind < 0.55 and len(lines) > 1:
            del lines[index]
        elif kind < 0.7:
            lines[index] += rng.choice((b"\x00", b"\xb2\xe2\xca\xd4", b" =?\x00?B?5byg?=",
                                        b"; name*0*=gbk''%D5%C5", b", a@x b@x"))
        elif kind < 0.8:
            lines.insert(index, b"Content-Type: multipart/mixed; boundary=\"" +
                         bytes(rng.randrange(33, 127) for _ in range(8)) + b"\"")
        elif kind < 0.9:
            body = body[: rng.randrange(len(body) + 1)]
        else:
            nested = b"Content-Type: message/rfc822\r\n\r\n" * rng.randrange(50, 1200)
            body = nested + body
    return b"\r\n".join(lines) + (sep or b"\r\n\r\n") + body


def sample_mail(media: Media, index: int, tag: str) -> bytes:
    """Real sample message number ``index``, with its own Message-ID so no two are one
    delivery, and a fixed boundary and date so that the same seed always gives the same
    mutant."""
    makers = [
        lambda mid: samplemail.complete_submission("fuli@dhmz.example.cn", media, mid),
        lambda mid: samplemail.failing_photo("xzjly@dhmz.example.cn", media, mid),
        lambda mid: samplemail.foxmail_gbk("王老师 <wang@etfly.example.cn>", media, mid),
        lambda mid: samplemail.auto_reply("jiuzhu@dhmz.example.cn", mid),
        lambda mid: samplemail.cloud_attachment("byg@dhmz.example.cn", mid),
        lambda mid: samplemail.complete_submission("someone@qq.example.com", media, mid),
    ]
    mail = makers[index % len(makers)](f"<fuzz-{index}@{tag}>")
    mail = re.sub(rb"_Part_[0-9a-f]{32}", b"_Part_" + b"0" * 32, mail)
    return re.sub(rb"^Date: [^\r\n]*", b"Date: Mon, 03 Jun 2024 09:30:00 +0800", mail,
                  flags=re.M)
