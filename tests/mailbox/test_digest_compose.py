"""compose_digest on its own (no store): a digest of very many held messages, each with very
many files, stays small and says what it did not list."""

from __future__ import annotations

import email
import re

from safetymonth.config import Config
from safetymonth.mailbox.replies import (
    MAX_REPLY_BYTES,
    HeldMessage,
    compose_digest,
)


def verdict(index: int) -> dict[str, object]:
    return {"path": f"照片{index}.jpg", "kind": "photo", "format": "JPEG", "width": 1280,
            "height": 960, "ok": False, "reasons": [{"code": "resolution_too_low",
                                                     "message": "分辨率低于 1920×1080" * 5}],
            "warnings": []}


def test_a_digest_of_a_flood_lists_what_fits_and_counts_the_rest() -> None:
    held = [HeldMessage(subject=f"第{number}封" + "很长的主题" * 40,
                        received="2026-06-01 09:00", message_id=f"<m{number}@x>",
                        verdicts=[verdict(index) for index in range(200)])
            for number in range(150)]
    outgoing = compose_digest(Config(), "digest-x-1", "fuli@dhmz.example.cn", "德化县社会福利中心",
                              held, ["视频"], "2026-06-01 09:00", "2026-06-01 10:00")
    assert len(outgoing.data) <= MAX_REPLY_BYTES
    message = email.message_from_bytes(outgoing.data)
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain") \
        .get_payload(decode=True).decode("utf-8")
    numbers = [int(found) for found in re.findall(r"^(\d+)\. 邮件“", text, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers
    assert f"另有 {len(held) - len(numbers)} 封邮件未逐一列出" in text
    assert "还缺少：视频" in text


def test_a_small_digest_lists_every_message_and_file() -> None:
    held = [HeldMessage(subject=f"第{number}封", received="2026-06-01 09:00",
                        message_id=f"<m{number}@x>", verdicts=[verdict(number)])
            for number in range(3)]
    outgoing = compose_digest(Config(), "digest-x-1", "fuli@dhmz.example.cn", None, held, [],
                              "2026-06-01 09:00", "2026-06-01 10:00")
    message = email.message_from_bytes(outgoing.data)
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain") \
        .get_payload(decode=True).decode("utf-8")
    assert "未逐一列出" not in text and text.startswith("fuli@dhmz.example.cn：")
    for number in range(3):
        assert f"{number + 1}. 邮件“第{number}封”（2026-06-01 09:00 收到）" in text
        assert f"照片{number}.jpg：JPEG 照片，1280×960，不合格" in text
    assert message["In-Reply-To"] == "<m2@x>" and message["References"] == \
        "<m0@x> <m1@x> <m2@x>"
