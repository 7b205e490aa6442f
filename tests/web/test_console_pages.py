"""The console's pages and JSON on SQLite and on PostgreSQL 15: the API is the CLI's JSON,
the board's rows follow from what each unit sent, and the board follows new mail and
decisions at once."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.console import Console, cli, fill_store, serve
from tests.support.mailservers import drop

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL


@pytest.fixture
def live(tmp_path: Path, mail_media: Media) -> Iterator[Console]:
    yield from serve(fill_store(tmp_path, mail_media))


def _board(console: Console) -> dict[str, list[str]]:
    page = console.logged_in().get("/").text
    rows = {}
    for row in re.findall(r"<tr class=\"status-\w+\">(.*?)</tr>", page, re.S):
        cells = [re.sub(r"<[^>]+>", "", cell).strip()
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[cells[0]] = cells[1:5]
    return rows


@pytest.mark.slow
def test_api_is_the_cli_json(live: Console) -> None:
    client = live.logged_in()
    for path, command in [("/api/report", ["report", "--json"]),
                          ("/api/messages", ["messages", "--json"]),
                          ("/api/files", ["files", "--json"]),
                          ("/api/history", ["history", "--json"])]:
        assert client.get(path).json() == json.loads(cli(live.config_path, *command)), path
    assert [unit["id"] for unit in client.get("/api/report").json()["units"]] == [
        "德化县社会福利中心", "德化县浔中镇敬老院", "德化县儿童福利院", "德化县救助管理站",
        "德化县殡仪馆"]


@pytest.mark.slow
def test_board_rows_follow_what_each_unit_sent(live: Console) -> None:
    # fill_store: a complete submission; one small photo; a zip of two good photos and a
    # PDF (no video); nothing; one small photo with a hostile name.
    board = _board(live)
    # The zip holds the same photo twice under two names: how many that counts for is the
    # tally's rule (storage.credit), not the console's; only its status is checked here.
    assert board.pop("德化县儿童福利院")[:2] == ["未齐全", "视频"]
    assert board == {
        "德化县社会福利中心": ["已齐全", "", "3", "0"],
        "德化县浔中镇敬老院": ["未齐全", "活动总结、视频、照片", "0", "1"],
        "德化县救助管理站": ["未提交", "活动总结、视频、照片", "0", "0"],
        "德化县殡仪馆": ["未齐全", "活动总结、视频、照片", "0", "1"],
    }
    page = live.logged_in().get("/", params={"status": "nothing"}).text
    assert "德化县救助管理站" in page and "德化县社会福利中心" not in page


@pytest.mark.slow
def test_board_downloads_the_clerks_workbook_and_csv(live: Console) -> None:
    client = live.logged_in()
    board = client.get("/").text
    assert 'href="/report.xlsx"' in board and 'href="/report.csv"' in board
    response = client.get("/report.xlsx")
    assert response.headers["content-type"] == \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition, fallback, encoded = response.headers["content-disposition"].split("; ")
    assert disposition == "attachment" and fallback.isascii()  # RFC 6266 with RFC 5987:
    assert encoded.startswith("filename*=UTF-8''")
    assert unquote(encoded.removeprefix("filename*=UTF-8''")) == "材料报送情况.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = rows[0]
    assert header[:3] == ["单位", "单位编号", "提交邮件"]
    by_unit = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    # fill_store: 德化县社会福利中心 sent one complete submission (a summary, a video and a
    # photo, all good); 德化县救助管理站 sent nothing.
    welfare = by_unit["德化县社会福利中心"]
    assert (welfare["提交邮件"], welfare["总结合格"], welfare["视频合格"], welfare["照片合格"],
            welfare["材料齐全"], welfare["缺少"]) == (1, 1, 1, 1, "是", None)
    relief = by_unit["德化县救助管理站"]
    assert (relief["提交邮件"], relief["材料齐全"], relief["缺少"]) == \
        (0, "否", "活动总结、视频、照片")
    csv = client.get("/report.csv")
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.content.decode("utf-8-sig").splitlines()[0].startswith("单位,单位编号,提交邮件")


@pytest.mark.slow
def test_board_follows_new_mail_and_undo(live: Console, mail_media: Media) -> None:
    assert _board(live)["德化县救助管理站"][0] == "未提交"
    drop(live.folder / "inbox", "new.eml",
         samplemail.complete_submission("jiuzhu@dhmz.example.cn", mail_media))
    cli(live.config_path, "poll", "--once")
    assert _board(live)["德化县救助管理站"] == ["已齐全", "", "3", "0"]
    photo = next(item for item in json.loads(cli(live.config_path, "files", "--json"))
                 if item["unit_id"] == "德化县救助管理站" and item["kind"] == "photo")
    cli(live.config_path, "reject", str(photo["id"]), "--reason", "不是本单位的照片")
    assert _board(live)["德化县救助管理站"] == ["未齐全", "照片", "2", "1"]
    decision = json.loads(cli(live.config_path, "history", "--json"))[0]["id"]
    cli(live.config_path, "undo", str(decision))
    assert _board(live)["德化县救助管理站"] == ["已齐全", "", "3", "0"]


@pytest.mark.slow
def test_unit_page_lists_messages_newest_first_with_replies(live: Console,
                                                           mail_media: Media) -> None:
    drop(live.folder / "inbox", "again.eml",
         samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media, "<second@x>"))
    cli(live.config_path, "poll", "--once")
    page = live.logged_in().get("/units/德化县浔中镇敬老院").text
    ids = [int(found) for found in re.findall(r'id="message-(\d+)"', page)]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)
    assert page.count("回复（已发送）") == 2
    assert "1280×960" in page
