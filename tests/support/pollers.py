"""What the crash and concurrency tests share: 200 distinct messages, and a poller process."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media

MESSAGES = 200
SENDERS = ["fuli@dhmz.example.cn", "xzjly@dhmz.example.cn", "a@etfly.example.cn",
           "stranger@qq.example.com"]


def build_messages(media: Media) -> tuple[list[bytes], dict[str, set[str]]]:
    """200 messages, each with its own attachments, and Message-ID -> their hashes."""
    messages: list[bytes] = []
    expected: dict[str, set[str]] = {}
    for index in range(MESSAGES):
        # Bytes after a JPEG's end marker are ignored by viewers: unique but valid photos.
        photo = media.photo + index.to_bytes(4, "big")
        document = media.pdf + f"% {index}\n".encode()
        message_id = f"<crash-{index}@example.cn>"
        parts = [samplemail.text_part(f"第{index}封"),
                 samplemail.file_part(photo, samplemail.utf8_name(f"照片{index}.jpg")),
                 samplemail.file_part(document, samplemail.rfc2047_name(f"总结{index}.pdf"))]
        messages.append(samplemail.message(SENDERS[index % len(SENDERS)], f"材料{index}", parts,
                                           message_id=message_id))
        expected[message_id] = {hashlib.sha256(photo).hexdigest(),
                                hashlib.sha256(document).hexdigest()}
    return messages, expected


def poll_command(config: Path, once: bool = True) -> list[str]:
    """The command line of ``safetymonth poll --once`` (or of a watching ``poll``)."""
    code = "from safetymonth.cli import main; main()"
    return [sys.executable, "-c", code, "--config", str(config), "poll",
            *(["--once"] if once else [])]


def poller(config: Path, stderr: int = subprocess.DEVNULL,
           once: bool = True) -> subprocess.Popen[bytes]:
    """``safetymonth poll --once`` (or a watching ``poll``) started in a process of its own
    (to run one to its end, use :func:`poll_command` with ``subprocess.run``)."""
    return subprocess.Popen(poll_command(config, once), stdout=subprocess.DEVNULL,
                            stderr=stderr)
