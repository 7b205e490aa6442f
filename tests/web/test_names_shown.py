"""Names shown as they are: a mail whose attachment, zip member and sender's display name
carry bidi overrides, isolates and zero-width characters, through ``poll --once`` into a store
on SQLite and PostgreSQL. The names stored, listed, shown on the unit page, exported and sent
back in the reply are the names without those characters, each with its real extension."""

from __future__ import annotations

import base64
import email.message
import re
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from safetymonth import samples
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.cli_runs import BYG, as_json, polled, run, sent
from tests.support.console import cli, log_in, serve

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

RLO, LRI, PDI, LRM = "\u202e", "\u2066", "\u2069", "\u200e"  # override, isolate, its end, mark
ZWSP, ZWJ, BOM = "\u200b", "\u200d", "\ufeff"  # zero-width space and joiner, byte order mark
INVISIBLE = re.compile(f"[{RLO}{LRI}{PDI}{ZWSP}{ZWJ}{BOM}{LRM}\u202a-\u202d\u200c\u2060\u200f]")
EXECUTABLE = b"MZ" + bytes(62) + b"PE\0\0"  # what a Windows .exe starts with
# Shown with the override, "活动总结\u202excod.exe" reads "活动总结exe.docx".
LYING = f"活动总结{RLO}xcod.exe"
MEMBER = f"现{ZWSP}场{LRI}照片{PDI}.jpg"
DISPLAY = f"王{ZWJ}{RLO}主任{BOM}"


def lying_mail(media: Media, tmp_path: Path) -> bytes:
    bundle = samples.make_zip(tmp_path / "bundle.zip", {MEMBER: media.photo}).read_bytes()
    sender = f"=?utf-8?b?{base64.b64encode(DISPLAY.encode()).decode()}?= <byg@dhmz.example.cn>"
    return samplemail.message(sender, "总结和照片", [
        samplemail.text_part("见附件"),
        samplemail.file_part(EXECUTABLE, samplemail.utf8_name(LYING)),
        samplemail.file_part(bundle, samplemail.utf8_name(f"打包{LRM}.zip"), "application/zip")])


def text_of(message: email.message.Message) -> str:
    """Every header (decoded) and every text part of a sent reply."""
    headers = [str(make_header(decode_header(value))) for value in message.values()]
    bodies = [part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
              for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(headers + bodies)


@pytest.mark.slow
def test_names_are_stored_shown_exported_and_sent_without_invisible_characters(
        tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": lying_mail(mail_media, tmp_path)})
    plain = INVISIBLE.sub("", LYING)
    assert plain == "活动总结xcod.exe"  # what the name really is: an .exe
    member = "打包.zip!" + INVISIBLE.sub("", MEMBER)

    files = {item["name"]: item for item in as_json(config, "files")}
    assert set(files) == {plain, member}
    assert files[plain]["ok"] is False and files[member]["ok"] is True
    [listed] = as_json(config, "messages")
    assert listed["sender_name"] == "王主任"

    [reply] = sent(tmp_path)
    replied = text_of(reply)
    assert plain in replied and "现场照片.jpg" in replied
    assert not INVISIBLE.search(replied)

    cli(config, "user", "add", "clerk", "--role", "coordinator", stdin="clerk-pass-2\n")
    console = serve(config)
    running = next(console)
    try:
        with running.client() as client:
            assert log_in(client, "clerk", "clerk-pass-2").status_code == 303
            unit = next(item for item in client.get("/api/report").json()["units"]
                        if item["name"] == BYG)
            page = client.get(f"/units/{unit['id']}").text
    finally:
        console.close()
    assert plain in page and not INVISIBLE.search(page)

    out = tmp_path / "out"
    run(config, "export", str(out), "--unit", BYG)
    assert sorted(path.name for path in (out / BYG).iterdir()) == [
        "活动总结xcod.exe", "现场照片.jpg"]
