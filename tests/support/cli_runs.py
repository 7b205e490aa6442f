"""The CLI run in-process on a config (click's CliRunner), and the Maildir around it: the
decision, reply and export tests all poll real mail and read what went out."""

from __future__ import annotations

import email
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from safetymonth.cli import main
from tests.support.mailservers import drop, write_config

BYG = "德化县殡仪馆"  # registered as byg@dhmz.example.cn
XZ = "德化县浔中镇敬老院"  # registered as xzjly@dhmz.example.cn


def run(config: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == code, result.output
    return result


def as_json(config: Path, *args: str) -> Any:
    return json.loads(run(config, *args, "--json").stdout)


def polled(tmp_path: Path, messages: dict[str, bytes], **sections: Any) -> Path:
    config = write_config(tmp_path, **sections)
    for name, data in messages.items():
        drop(tmp_path / "inbox", name, data)
    run(config, "poll", "--once")
    return config


def sent(tmp_path: Path) -> list[email.message.Message]:
    outbox = tmp_path / "outbox" / "new"
    return [email.message_from_bytes(path.read_bytes()) for path in sorted(outbox.iterdir())]


def text_of(message: email.message.Message) -> str:
    part = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode("utf-8")


def html_of(message: email.message.Message) -> str:
    part = next(part for part in message.walk() if part.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode("utf-8")


def sent_by_recipient(tmp_path: Path) -> dict[str, list[str]]:
    """Each recipient's mails in the order sent, each as its plain text followed by its HTML."""
    found: dict[str, list[str]] = {}
    for message in sent(tmp_path):
        found.setdefault(message["To"], []).append(text_of(message) + html_of(message))
    return found
