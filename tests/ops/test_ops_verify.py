"""``safetymonth verify [--repair]`` on a store filled by real intake, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from safetymonth.cli import main
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.mailservers import drop, open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL


def _run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config_path), *args])


def _filled_store(tmp_path: Path, mail_media: Media) -> Path:
    config_path = write_config(tmp_path)
    drop(tmp_path / "inbox", "1.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<v1@dhmz>"))
    drop(tmp_path / "inbox", "2.eml",
         samplemail.foxmail_gbk("wang@etfly.example.cn", mail_media))
    assert _run(config_path, "poll", "--once").exit_code == 0
    return config_path


def test_an_intact_store_verifies(tmp_path: Path, mail_media: Media) -> None:
    config_path = _filled_store(tmp_path, mail_media)
    result = _run(config_path, "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_a_deleted_and_a_corrupt_attachment_are_named_and_repaired_byte_identically(
        tmp_path: Path, mail_media: Media) -> None:
    config_path = _filled_store(tmp_path, mail_media)
    with open_store(tmp_path) as store:
        first = store.messages()[0]
        document, video, _photo = store.attachments(first.id)
        deleted, corrupt = store.path(document.stored_name), store.path(video.stored_name)
    deleted.unlink()
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    corrupt.write_bytes(bytes(data))

    result = _run(config_path, "verify")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert document.stored_name in lines[0] and "缺失" in lines[0]
    assert video.stored_name in lines[1] and "SHA-256 不符" in lines[1]
    assert "发现 2 个问题，已修复 0 个" in result.stderr

    result = _run(config_path, "verify", "--repair")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("已从原始邮件恢复") == 2
    assert deleted.read_bytes() == mail_media.document
    assert corrupt.read_bytes() == mail_media.video
    clean = _run(config_path, "verify")
    assert clean.exit_code == 0 and clean.stderr.strip() == "所有存储的文件齐全且完好"


def test_a_lost_raw_message_cannot_be_repaired(tmp_path: Path, mail_media: Media) -> None:
    config_path = _filled_store(tmp_path, mail_media)
    with open_store(tmp_path) as store:
        first = store.messages()[0]
        raw = store.raw_path(first.sha256)
        photo = store.path(store.attachments(first.id)[2].stored_name)
    raw.unlink()
    photo.unlink()

    for args in (("verify",), ("verify", "--repair")):
        result = _run(config_path, *args)
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        assert len(lines) == 2
        assert f"邮件 #{first.id}：原始邮件" in lines[0] and "缺失" in lines[0]
        assert "无法修复" in lines[0] and "无法修复" in lines[1]
    assert not raw.exists() and not photo.exists()
