"""``safetymonth assign FILE --deliverable ID --reason TEXT``: a decision like the others
(who, when, why, undoable, in ``history``) that counts a file's content for a deliverable
whatever its name and subject made of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.cli_runs import as_json, polled, run
from tests.support.mailservers import drop

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CAMPAIGN = {"deadline": "2099-06-24", "deliverables": [
    {"id": "experience", "name": "经验做法", "kind": "document", "match": ["经验"]},
    {"id": "summary", "name": "活动情况总结", "kind": "document", "match": ["总结"]},
    {"id": "photos", "name": "活动照片", "kind": "photo"}]}
UNITS = [{"name": "浔中镇敬老院", "id": "xzjly", "emails": ["xzjly@dhmz.example.cn"]}]


def mail(media: Media, name: str) -> bytes:
    return samplemail.message("xzjly@dhmz.example.cn", "报送材料", [
        samplemail.text_part("请查收。"),
        samplemail.file_part(media.document, samplemail.utf8_name(name), DOCX)])


def owed(config: Path) -> dict[str, int]:
    report = as_json(config, "report")
    return {item["id"]: item["accepted"] for item in report["units"][0]["deliverables"]}


def test_assign_counts_a_file_for_a_deliverable_until_undone(tmp_path: Path,
                                                             mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": mail(mail_media, "通讯录.docx")},
                    campaign=CAMPAIGN, units=UNITS)
    report = as_json(config, "report")
    [loose] = report["unassigned"]
    assert (loose["unit"], loose["name"]) == ("浔中镇敬老院", "通讯录.docx")
    assert [item["deliverable"] for item in as_json(config, "files")] == [None]

    said = run(config, "assign", str(loose["file"]), "--deliverable", "summary",
               "--reason", "电话确认为活动总结", "--by", "王科员").output
    assert "归入材料" in said and "通讯录.docx" in said and "summary" in said
    assert owed(config) == {"experience": 0, "summary": 1, "photos": 0}
    assert as_json(config, "report")["unassigned"] == []
    assert as_json(config, "report")["units"][0]["complete"] is False  # no 经验 yet
    [decision] = as_json(config, "history")
    assert (decision["action"], decision["target"], decision["deliverable"], decision["by"],
            decision["reason"]) == ("assign", loose["file"], "summary", "王科员",
                                    "电话确认为活动总结")
    assert [item["deliverable"] for item in as_json(config, "files")] == ["summary"]

    # The same content sent again (another name) counts for the same deliverable: once.
    drop(tmp_path / "inbox", "2.eml", mail(mail_media, "经验材料.docx"))
    run(config, "poll", "--once")
    assert [item["deliverable"] for item in as_json(config, "files")] == ["summary"] * 2
    assert owed(config) == {"experience": 0, "summary": 1, "photos": 0}

    # A change of match words assigns every file again; the decision still holds.
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["campaign"]["deliverables"][0]["match"] = ["通讯录"]
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert owed(config) == {"experience": 0, "summary": 1, "photos": 0}

    run(config, "undo", str(decision["id"]))
    assert [item["deliverable"] for item in as_json(config, "files")] == \
        ["experience", None]  # the rule again: 通讯录 is a match word now
    assert owed(config) == {"experience": 1, "summary": 0, "photos": 0}
    assert as_json(config, "history")[0]["undone_at"] is not None


def test_assign_refuses_what_cannot_be(tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": mail(mail_media, "通讯录.docx")},
                    campaign=CAMPAIGN, units=UNITS)
    [file] = as_json(config, "files")
    wrong = run(config, "assign", str(file["id"]), "--deliverable", "letters",
                "--reason", "x", code=2).output
    assert "no deliverable 'letters'" in wrong and "experience, summary, photos" in wrong
    kind = run(config, "assign", str(file["id"]), "--deliverable", "photos",
               "--reason", "x", code=2).output
    assert "is a document; photos takes photo" in kind
    run(config, "assign", str(file["id"]), "--deliverable", "summary", "--reason", " ",
        code=2)
    run(config, "assign", "999", "--deliverable", "summary", "--reason", "x", code=2)
    assert as_json(config, "history") == []
