"""The demo describes a campaign that is running: the shipped config's deadline is the coming
24 June, so the demo's replies ask for the missing files by then (never "已过截止日期"), and
its sample mail names only invented people and places."""

from __future__ import annotations

import email
import re
import shutil
from datetime import date, datetime
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.config import coming_deadline, load_config
from safetymonth.mailbox.samplemail import build_demo_inbox

ROOT = Path(__file__).resolve().parents[2]
LATE = "已过截止日期"
# Well-known real people a sample must not name (a unit, a sender, a subject).
REAL_PEOPLE = ("朱镕基", "江泽民", "胡锦涛", "温家宝", "李克强", "李鹏", "毛泽东", "周恩来",
               "邓小平", "刘少奇", "华国锋", "赵紫阳", "李强")


def _june_24_not_past(today: date) -> date:
    """Worked out here, apart from the code under test: this year's 24 June, or next
    year's once this year's is over."""
    return date(today.year + (today > date(today.year, 6, 24)), 6, 24)


@pytest.mark.parametrize("today", [date(2026, 12, 7), date(2027, 1, 1), date(2027, 6, 24),
                                   date(2027, 6, 25), date(2028, 2, 29)])
def test_an_empty_deadline_is_the_coming_24_june(today: date) -> None:
    assert coming_deadline(today) == _june_24_not_past(today)


def test_the_demo_replies_before_its_deadline(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")  # var/ under tmp_path
    config = load_config(tmp_path / "config.yaml")
    today = datetime.now(ZoneInfo(config.campaign.timezone)).date()
    deadline = _june_24_not_past(today)
    assert config.campaign.deadline == deadline
    build_demo_inbox(tmp_path / "var" / "inbox")
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "poll",
                                       "--once"])
    assert result.exit_code == 0, result.output
    replies = [email.message_from_bytes(path.read_bytes(), policy=policy.default)
               for path in (tmp_path / "var" / "outbox" / "new").iterdir()]
    assert len(replies) >= 3
    for reply in replies:
        text = reply.get_body(("plain",)).get_content()
        assert LATE not in text
        assert f"{deadline.year}年{deadline.month}月{deadline.day}日" in text


def test_samples_and_tests_name_no_real_person() -> None:
    this = Path(__file__).resolve()
    checked = [path for folder in ("safetymonth", "tests", "bench", "docs")
               for path in (ROOT / folder).rglob("*")
               if path.suffix in (".py", ".md", ".yaml", ".j2", ".txt", ".html")
               and path != this and "data" not in path.relative_to(ROOT).parts
               # bench/out holds what benchmarks made (a release's own copy of this test)
               and not path.is_relative_to(ROOT / "bench" / "out")]
    assert len(checked) > 100
    found = {f"{path.relative_to(ROOT)}: {name}" for path in checked
             for name in REAL_PEOPLE
             if re.search(name, path.read_text(encoding="utf-8", errors="replace"))}
    assert not found
