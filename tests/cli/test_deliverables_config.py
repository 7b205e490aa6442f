"""``campaign.deliverables`` in config.yaml: the shorthand of ``completion:``, each
deliverable's deadline, what a config may not say, and which deliverable a file counts for."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from safetymonth.assigning import assign
from safetymonth.config import ConfigError, load_config
from safetymonth.deliverables import deadline_of, deliverables_of

DEHUA = [
    {"id": "experience", "name": "经验做法", "kind": "document", "deadline": "2024-06-05",
     "owed_by": "group", "match": ["经验", "做法"]},
    {"id": "summary", "name": "活动情况总结", "kind": "document", "match": ["总结"]},
    {"id": "letter", "name": "安全管理责任书（签字盖章）", "kind": ["document", "photo"],
     "match": ["责任书"], "deadline": "2024-06-10"},
    {"id": "photos", "name": "活动照片", "kind": "photo", "count": 3},
    {"id": "videos", "name": "活动视频", "kind": "video"},
]
GROUPS = [{"id": "xunzhong", "name": "浔中镇民政办"}]


def config_with(tmp_path: Path, campaign: dict, **more: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"campaign": campaign, **more}, allow_unicode=True), "utf-8")
    return load_config(path)


def test_completion_is_three_deliverables_due_on_the_campaign_deadline(tmp_path: Path) -> None:
    campaign = config_with(tmp_path, {"deadline": "2024-06-24",
                                      "completion": {"photos": 3, "videos": 0}}).campaign
    found = deliverables_of(campaign)
    assert [(item.id, item.name, item.kinds, item.count, item.match) for item in found] == [
        ("documents", "活动总结", ("document",), 1, []), ("photos", "照片", ("photo",), 3, [])]
    assert {deadline_of(item, campaign) for item in found} == {date(2024, 6, 24)}


def test_configured_deliverables_with_their_own_deadlines(tmp_path: Path) -> None:
    campaign = config_with(tmp_path, {"deadline": "2024-06-24", "deliverables": DEHUA},
                           groups=GROUPS).campaign
    found = {item.id: item for item in deliverables_of(campaign)}
    assert list(found) == ["experience", "summary", "letter", "photos", "videos"]
    assert deadline_of(found["experience"], campaign) == date(2024, 6, 5)
    assert deadline_of(found["summary"], campaign) == date(2024, 6, 24)
    assert found["letter"].kinds == ("document", "photo")
    assert found["experience"].owed_by == "group" and found["summary"].owed_by == "unit"


@pytest.mark.parametrize(("deliverables", "said"), [
    ([{"id": "a", "name": "甲", "kind": "document"}, {"id": "a", "name": "乙", "kind": "photo"}],
     "the same id twice: a"),
    ([{"id": "a", "name": "甲", "kind": ["photo", "photo"]}], "a: kind must name"),
    ([{"id": "a", "name": "甲", "kind": []}], "a: kind must name"),
    ([{"id": "a", "name": "甲", "kind": "document"}, {"id": "b", "name": "乙", "kind": "document"}],
     "more than one document deliverable without match words (a, b)"),
    ([{"id": "a", "name": "甲", "kind": "document", "match": [" "]}], "an empty word"),
    ([], "name at least one"),
    ([{"id": "A b", "name": "甲", "kind": "document"}], "deliverables.0.id"),
])
def test_wrong_deliverables_are_refused(tmp_path: Path, deliverables: list, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config_with(tmp_path, {"deadline": "2024-06-24", "deliverables": deliverables})
    assert said in str(raised.value)


@pytest.mark.parametrize(("kind", "name", "subject", "expected"), [
    ("document", "浔中镇经验做法.docx", "报送", "experience"),  # the name's word
    ("document", "材料.docx", "经验材料", "experience"),  # else the subject's
    ("document", "活动总结.docx", "经验做法和总结", "summary"),  # the name before the subject
    ("document", "2024总结（经验）.docx", None, "experience"),  # the first deliverable first
    ("photo", "签字盖章责任书.JPG", "", "letter"),  # a kind among several
    ("photo", "现场.jpg", "经验", "photos"),  # experience takes no photos: the catch-all
    ("video", "演练.mp4", "责任书", "videos"),
    ("document", "通讯录.docx", "报送", None),  # no word, no document catch-all
    ("archive", "材料.zip", "总结", None),
    ("document", "archive.zip!经验.DOCX", "", "experience"),  # a zip member by its path
])
def test_which_deliverable_a_file_counts_for(tmp_path: Path, kind: str, name: str,
                                             subject: str | None, expected: str | None) -> None:
    campaign = config_with(tmp_path, {"deadline": "2024-06-24", "deliverables": DEHUA},
                           groups=GROUPS).campaign
    assert assign(kind, name, subject, deliverables_of(campaign)) == expected


def test_match_ignores_case(tmp_path: Path) -> None:
    campaign = config_with(tmp_path, {"deadline": "2024-06-24", "deliverables": [
        {"id": "ppt", "name": "课件", "kind": "document", "match": ["PPT"]}]}).campaign
    assert assign("document", "培训.ppt.pdf", "", deliverables_of(campaign)) == "ppt"


def test_a_deliverable_owed_by_groups_needs_groups(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        config_with(tmp_path, {"deadline": "2024-06-24", "deliverables": DEHUA})
    assert "experience is owed by groups, but groups: names none" in str(raised.value)
