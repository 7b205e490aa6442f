"""The Weihai 2016 campaign configured as its notice says (seeds/weihai-2016-notice.txt): the
活动开展情况总结, the videos and the photos, each by 1 July; its district bureaus as groups.
Mail received at injected times; the report read before and after the deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from safetymonth.config import load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.service import poll_once
from safetymonth.report import report_from_repository
from safetymonth.storage.repository import open_repository
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

BEIJING = ZoneInfo("Asia/Shanghai")
CAMPAIGN = {"deadline": "2016-07-01", "deliverables": [
    {"id": "summary", "name": "活动开展情况总结", "kind": "document"},
    {"id": "videos", "name": "活动视频", "kind": "video"},
    {"id": "photos", "name": "活动照片", "kind": "photo"}]}
GROUPS = [{"id": "huancui", "name": "环翠区民政局"}, {"id": "wendeng", "name": "文登区民政局"}]
UNITS = [{"name": "威海市社会福利院", "id": "fly", "emails": ["fly@whmz.example.cn"]},
         {"name": "环翠区敬老院", "id": "hcjly", "emails": ["hcjly@hc.example.cn"],
          "group": "huancui"},
         {"name": "文登区光荣院", "id": "wdgry", "emails": ["wdgry@wd.example.cn"],
          "group": "wendeng"}]


def at(month: int, day: int) -> datetime:
    return datetime.combine(date(2016, month, day), time(10), BEIJING).astimezone(UTC)


def test_weihai_campaign(tmp_path: Path, mail_media: Media) -> None:
    config = load_config(write_config(tmp_path, campaign=CAMPAIGN, groups=GROUPS, units=UNITS))
    inbox = tmp_path / "inbox"
    drop(inbox, "1.eml", samplemail.complete_submission("fly@whmz.example.cn", mail_media))
    drop(inbox, "2.eml", samplemail.failing_photo("hcjly@hc.example.cn", mail_media))
    poll_once(config, clock=lambda: at(6, 28))

    def report(month: int, day: int) -> dict:
        with open_repository(config) as store:
            found = report_from_repository(store, config, at(month, day))
        return {unit["id"]: unit for unit in found["units"]} | {"": found}

    def states(unit: dict) -> dict[str, tuple[int, str, bool]]:
        return {item["id"]: (item["accepted"], item["status"], item["late"])
                for item in unit["deliverables"]}

    before = report(6, 30)
    assert states(before["fly"]) == {"summary": (1, "done", False),
                                     "videos": (1, "done", False), "photos": (1, "done", False)}
    assert before["fly"]["complete"] is True and before["fly"]["group"] is None
    assert states(before["hcjly"]) == {"summary": (0, "open", False),
                                       "videos": (0, "open", False), "photos": (0, "open", False)}
    assert before["hcjly"]["missing"] == ["活动开展情况总结", "活动视频", "活动照片"]
    assert states(before["wdgry"])["summary"] == (0, "open", False)

    drop(inbox, "3.eml", samplemail.complete_submission("wdgry@wd.example.cn", mail_media))
    poll_once(config, clock=lambda: at(7, 3))
    after = report(7, 4)
    assert states(after["hcjly"]) == {"summary": (0, "overdue", False),
                                      "videos": (0, "overdue", False),
                                      "photos": (0, "overdue", False)}  # its photo failed
    assert states(after["wdgry"]) == {"summary": (1, "done", True),
                                      "videos": (1, "done", True), "photos": (1, "done", True)}
    assert after["wdgry"]["complete"] is True  # late files still count
    groups = {group["id"]: group for group in after[""]["groups"]}
    assert {key: (group["units"], group["complete_units"], group["deliverables"])
            for key, group in groups.items()} == {"huancui": (1, 0, []),
                                                 "wendeng": (1, 1, [])}
