"""``export DIR``: the stored files out again, byte-identical, under safe names, with the
manifest 清单.xlsx; on SQLite and PostgreSQL, from real mail through ``poll --once``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from openpyxl import load_workbook

from safetymonth import samples
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.cli_runs import BYG, XZ, as_json, polled, run
from tests.support.mailservers import files_under

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

FULI = "德化县社会福利中心"


def manifest(folder: Path) -> list[dict[str, object]]:
    sheet = load_workbook(folder / "清单.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def hostile_names(sender: str, media: Media, tmp_path: Path) -> bytes:
    """Names a Windows clerk's PC cannot take, two files of the same name (each content
    sent once: the same content twice is exported once), and a zip whose members sit in
    folders and escape it."""
    bundle = samples.make_zip(tmp_path / "bundle.zip", {
        "现场/培训.jpg": media.photo, "../../逃逸.jpg": media.photo}).read_bytes()
    parts = [samplemail.text_part("附件")]
    for name, data in [("CON.jpg", media.photo), ("a\x01b:c.jpg", media.small_photo),
                       ("同名.jpg", media.pdf), ("同名.JPG", media.video),
                       ("=HYPERLINK(1).docx", media.document), ("打包.zip", bundle)]:
        parts.append(samplemail.file_part(data, samplemail.utf8_name(name), "image/jpeg"))
    return samplemail.message(sender, "=cmd|' /C calc'!A0", parts, message_id="<h@x>")


def test_export_writes_each_unit_s_files_byte_identical_with_a_manifest(
        tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {
        "1.eml": samplemail.complete_submission("fuli@dhmz.example.cn", mail_media),
        "2.eml": samplemail.foxmail_gbk("wang@etfly.example.cn", mail_media),
        "3.eml": samplemail.failing_photo("stranger@qq.example.com", mail_media)})
    out = tmp_path / "导出"
    result = run(config, "export", str(out))
    assert "清单.xlsx" in result.stdout
    assert (out / FULI / "安全管理月活动总结.docx").read_bytes() == mail_media.document
    assert (out / FULI / "消防疏散演练.mp4").read_bytes() == mail_media.video
    assert (out / FULI / "消防演练现场.jpg").read_bytes() == mail_media.photo
    # foxmail_gbk zips two photos under GBK names: each a file of its own, the zip not kept.
    children = out / "德化县儿童福利院"
    assert sorted(path.name for path in children.iterdir()) == \
        ["培训现场.jpg", "应急演练.jpg", "活动总结.pdf"]
    assert (children / "培训现场.jpg").read_bytes() == mail_media.photo
    assert (children / "活动总结.pdf").read_bytes() == mail_media.pdf
    assert (out / "未计入单位" / "微信压缩照片.jpg").read_bytes() == mail_media.small_photo

    rows = manifest(out)
    assert len(rows) == 7
    small = next(row for row in rows if row["原文件名"] == "微信压缩照片.jpg")
    assert (small["单位"], small["发件人"], small["检测结论"]) == \
        ("未计入单位", "stranger@qq.example.com", "不合格")
    assert "1920×1080" in str(small["不合格原因"])
    member = next(row for row in rows if row["原文件名"] == "活动照片.zip!培训现场.jpg")
    assert member["导出为"] == "德化县儿童福利院/培训现场.jpg"
    [listed] = [item for item in as_json(config, "messages") if item["files"] == 1]
    # Received time in campaign.timezone (Asia/Shanghai: UTC+8, no summer time).
    utc = listed["received"]
    hour = (int(utc[11:13]) + 8) % 24
    assert str(small["收到时间"])[11:13] == f"{hour:02d}"


def test_export_names_are_safe_for_windows_and_never_leave_dir(
        tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": hostile_names("byg@dhmz.example.cn", mail_media,
                                                      tmp_path)})
    out = tmp_path / "out"
    run(config, "export", str(out), "--unit", BYG)
    names = sorted(path.name for path in (out / BYG).iterdir())
    assert names == sorted(["_CON.jpg", "ab_c.jpg", "同名.jpg", "同名 (2).JPG",
                            "=HYPERLINK(1).docx", "培训.jpg"])
    assert (out / BYG / "同名.jpg").read_bytes() == mail_media.pdf
    assert (out / BYG / "同名 (2).JPG").read_bytes() == mail_media.video
    assert (out / BYG / "培训.jpg").read_bytes() == mail_media.photo
    # The escaping member was refused by the validator and is listed, never written.
    assert files_under(tmp_path) >= files_under(out)
    assert not list(tmp_path.rglob("逃逸.jpg"))
    rows = manifest(out)
    escaped = next(row for row in rows if "逃逸" in str(row["原文件名"]))
    assert str(escaped["导出为"]).startswith("（未导出")
    sheet = load_workbook(out / "清单.xlsx").active
    formula_like = [cell for row in sheet.iter_rows() for cell in row
                    if str(cell.value).startswith("=HYPERLINK")]
    assert formula_like and all(cell.data_type == "s" for cell in formula_like)


def test_accepted_only_follows_the_decisions(tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn",
                                                                  mail_media)})
    run(config, "export", str(tmp_path / "before"), "--accepted-only")
    assert not (tmp_path / "before" / XZ).exists() and manifest(tmp_path / "before") == []
    [small] = as_json(config, "files")
    run(config, "accept", str(small["id"]), "--reason", "唯一的演练照片")
    run(config, "export", str(tmp_path / "after"), "--accepted-only")
    assert (tmp_path / "after" / XZ / "微信压缩照片.jpg").read_bytes() == mail_media.small_photo
    [row] = manifest(tmp_path / "after")
    assert (row["检测结论"], row["决定"], row["理由"]) == ("不合格", "认定合格", "唯一的演练照片")


def test_export_refuses_a_symlink_or_a_folder_in_use(tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn",
                                                                  mail_media)})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "link")
    result = run(config, "export", str(tmp_path / "link"), code=1)
    assert "symbolic link" in result.stderr and list(elsewhere.iterdir()) == []
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "old.txt").write_text("x")
    assert "not empty" in run(config, "export", str(tmp_path / "used"), code=1).stderr
    assert [path.name for path in (tmp_path / "used").iterdir()] == ["old.txt"]


def test_a_file_sent_twice_is_exported_once(tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {
        "1.eml": samplemail.complete_submission("fuli@dhmz.example.cn", mail_media,
                                                message_id="<first@x>"),
        "2.eml": samplemail.complete_submission("fuli@dhmz.example.cn", mail_media,
                                                message_id="<again@x>")})
    out = tmp_path / "out"
    run(config, "export", str(out))
    assert sorted(path.name for path in (out / FULI).iterdir()) == \
        sorted(["安全管理月活动总结.docx", "消防疏散演练.mp4", "消防演练现场.jpg"])
    assert (out / FULI / "消防疏散演练.mp4").read_bytes() == mail_media.video
    rows = manifest(out)
    assert len(rows) == 6  # every copy is listed, each pointing at the one file written
    assert sorted(str(row["导出为"]) for row in rows) == sorted(
        2 * [f"{FULI}/安全管理月活动总结.docx", f"{FULI}/消防疏散演练.mp4",
             f"{FULI}/消防演练现场.jpg"])
