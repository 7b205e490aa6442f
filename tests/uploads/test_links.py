"""``safetymonth links``: each unit's upload link on ``web.public_url``, valid
``uploads.link_days``, only its hash in the store, and ``--rotate`` killing the old one."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.config import load_config
from safetymonth.storage.session import now
from safetymonth.uploads.links import resolve
from tests.support.mailservers import open_store, write_config
from tests.support.upload_links import OTHER_UNIT, PUBLIC_URL, UNIT, links, upload_config

pytestmark = pytest.mark.usefixtures("on_both_engines")

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 256 bits, base64url


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_links_are_on_public_url_valid_link_days_and_stable(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path, uploads={"link_days": 45})
    before = datetime.now(ZoneInfo("Asia/Shanghai"))
    first = links(config_path)
    config = load_config(config_path)
    assert [row["unit"] for row in first] == [unit.name for unit in config.units]
    for row in first:
        assert set(row) == {"unit", "url", "expires"}
        assert row["url"].startswith(PUBLIC_URL + "/u/")
        assert TOKEN.match(_token(row["url"]))
        expires = datetime.fromisoformat(row["expires"])
        assert expires.utcoffset() == timedelta(hours=8)  # campaign.timezone
        assert before + timedelta(days=45) - timedelta(minutes=1) <= expires \
            <= datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=45)
    assert len({row["url"] for row in first}) == len(first)
    assert links(config_path) == first  # printed again, not issued anew
    assert links(config_path, "--unit", OTHER_UNIT) == [
        row for row in first if row["unit"] == OTHER_UNIT]


def test_only_the_tokens_hash_is_stored(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path)
    rows = links(config_path)
    config = load_config(config_path)
    with open_store(tmp_path) as store:
        live = store.live_links(now())
        for row in rows:
            token = _token(row["url"])
            unit = next(unit for unit in config.units if unit.name == row["unit"])
            record = live[unit.key]
            assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
            assert token not in vars(record).values()
            found = resolve(config, store, token)
            assert found is not None and found[1].name == row["unit"]
    database = tmp_path / "storage" / "safetymonth.db"
    if database.exists():  # SQLite: the token is nowhere in the file
        data = database.read_bytes() + b"".join(
            path.read_bytes() for path in database.parent.glob("safetymonth.db-*"))
        assert all(_token(row["url"]).encode() not in data for row in rows)


def test_rotate_kills_the_old_link_at_once(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path)
    old = {row["unit"]: row["url"] for row in links(config_path)}
    rotated = links(config_path, "--rotate", UNIT)
    assert [row["unit"] for row in rotated] == [UNIT]
    assert rotated[0]["url"] != old[UNIT]
    config = load_config(config_path)
    with open_store(tmp_path) as store:
        assert resolve(config, store, _token(old[UNIT])) is None
        assert resolve(config, store, _token(rotated[0]["url"])) is not None
        assert resolve(config, store, _token(old[OTHER_UNIT])) is not None
    now_links = {row["unit"]: row["url"] for row in links(config_path)}
    assert now_links == {**old, UNIT: rotated[0]["url"]}


def test_without_public_url_links_are_local_with_a_warning(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config_path), "links", "--unit", UNIT])
    assert result.exit_code == 0, result.output
    assert "web.public_url" in result.stderr
    assert result.stdout.startswith(f"{UNIT}\thttp://127.0.0.1:8000/u/")


def test_an_unknown_unit_is_refused(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config_path), "links", "--rotate",
                                       "无此单位"])
    assert result.exit_code == 2
    assert "无此单位" in result.stderr
