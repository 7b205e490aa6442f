"""``remind --overdue`` with ``campaign.deliverables``: the schedule in ``campaign.reminders``
already chases overdue units, so the flag changes nothing and the clerk is told so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli_runs import run, sent_by_recipient
from tests.support.mailservers import write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")

ADDRESS = "fuli@dhmz.example.cn"


def test_the_flag_is_said_to_be_needless_and_the_overdue_unit_is_chased(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, units=[{"name": "德化县社会福利中心", "id": "FL01", "emails": [ADDRESS]}],
        campaign={"deadline": "2999-06-24", "deliverables": [
            {"id": "photos", "name": "活动照片", "kind": "photo", "deadline": "2020-06-05"}]})
    result = run(config, "remind", "--overdue")
    assert "--overdue 无需指定" in result.stderr and "campaign.reminders" in result.stderr
    [reminder] = sent_by_recipient(tmp_path)[ADDRESS]  # overdue since 2020: chased anyway
    assert "活动照片" in reminder and "已逾期" in reminder
