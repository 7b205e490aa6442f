"""A store written by the release before deliverables (the base commit, run from a ``git
archive`` of it) is upgraded in place by migration 0090 on first open: its files are assigned
to the three deliverables of ``completion:`` by the rule, its decisions are kept, and every key
of its report reads as it did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.cli_runs import as_json, run
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

BEFORE = "124ad10"  # main before deliverables (its head schema is 0080; the next commit
# stamps stores 0090 with the empty migration that 0090 now fills)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code of :data:`BEFORE`, unpacked."""
    folder = tmp_path_factory.mktemp("before")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BEFORE, "safetymonth"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def old(release: Path, config: Path, *args: str) -> str:
    """``safetymonth ARGS`` run by the old release; its stdout."""
    done = subprocess.run([sys.executable, "-m", "safetymonth", "--config", str(config), *args],
                          env={**os.environ, "PYTHONPATH": str(release)}, cwd=release,
                          capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_store_of_the_release_before_upgrades_with_its_report(
        tmp_path: Path, release: Path, mail_media: Media) -> None:
    config = write_config(tmp_path)
    inbox = tmp_path / "inbox"
    drop(inbox, "1.eml", samplemail.complete_submission("fuli@dhmz.example.cn", mail_media))
    drop(inbox, "2.eml", samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media))
    drop(inbox, "3.eml", samplemail.foxmail_gbk("wang@etfly.example.cn", mail_media))
    drop(inbox, "4.eml", samplemail.complete_submission("stranger@qq.example.com", mail_media))
    old(release, config, "poll", "--once")
    files = json.loads(old(release, config, "files", "--json"))
    small = next(item for item in files if not item["ok"])
    old(release, config, "accept", str(small["id"]), "--reason", "现场条件所限", "--by", "clerk")
    before = json.loads(old(release, config, "report", "--json"))
    assert "deliverables" not in before["units"][0]  # made by the release before

    after = as_json(config, "report")
    for old_unit, new_unit in zip(before["units"], after["units"], strict=True):
        assert {key: new_unit[key] for key in old_unit} == old_unit
    assert {key: after[key] for key in before if key != "units"} == \
        {key: value for key, value in before.items() if key != "units"}
    assert [item["action"] for item in as_json(config, "history")] == ["accept"]

    # Each file counts for the deliverable of its kind, as completion: counted them.
    for unit in after["units"]:
        counts = {item["id"]: item["accepted"] for item in unit["deliverables"]}
        assert counts == {"documents": unit["documents_ok"], "photos": unit["photos_ok"],
                          "videos": unit["videos_ok"]}
        assert unit["complete"] == all(item["status"] == "done"
                                       for item in unit["deliverables"])
    assert after["unassigned"] == [] and after["groups"] == []
    run(config, "undo", "1")  # the old decision undoes like any other
    assert as_json(config, "report")["units"][1]["photos_ok"] == 0
