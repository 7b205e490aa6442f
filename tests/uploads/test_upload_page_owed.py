"""The unit's page says what it still owes per deliverable, each with its own deadline, and
which are overdue, as the campaign's deliverables say (and, with the ``completion:``
shorthand, the kinds it lacks). A real ``serve``; SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.console import serve
from tests.support.upload_links import token_of, upload_config

pytestmark = pytest.mark.usefixtures("on_both_engines")

# One deadline long past, one far ahead: the first is overdue whatever today is.
DELIVERABLES = [
    {"id": "experience", "name": "经验做法", "kind": "document", "deadline": "2020-06-05",
     "match": ["经验"]},
    {"id": "summary", "name": "活动情况总结", "kind": "document", "deadline": "2099-06-24"},
]


def test_the_page_lists_each_deliverable_owed_with_its_deadline(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path, campaign={"deliverables": DELIVERABLES})
    token = token_of(config_path)
    for console in serve(config_path):
        with console.client() as client:
            owed = client.get(f"/u/{token}/files").json()["missing"]
            page = client.get(f"/u/{token}").text
    assert owed == ["经验做法（已逾期，截止2020年6月5日）", "活动情况总结（截止2099年6月24日）"]
    assert all(line in page for line in owed)


def test_with_the_shorthand_the_page_lists_the_kinds_lacking(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path)
    token = token_of(config_path)
    for console in serve(config_path):
        with console.client() as client:
            owed = client.get(f"/u/{token}/files").json()["missing"]
    assert len(owed) == 3 and not any("截止" in line for line in owed)
