"""The ``safetymonth validate`` contract: JSON shape, exit codes, folders, zips, workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTRACT_KEYS = {"path", "kind", "format", "width", "height", "ok", "reasons", "warnings"}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safetymonth", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_json_contract_and_exit_code_for_failures(media: dict[str, Path]) -> None:
    result = run("validate", "--json", str(media["iphone.mov"]), str(media["gbk-names.zip"]))
    assert result.returncode == 1
    verdicts = json.loads(result.stdout)
    assert all(set(v) == CONTRACT_KEYS for v in verdicts)
    mov, *members = verdicts
    assert mov["ok"] is False and mov["kind"] == "video" and mov["format"] == "MOV"
    assert mov["reasons"][0]["code"] == "format_not_allowed"
    assert set(mov["reasons"][0]) == {"code", "message"}
    assert [m["path"].split("!")[1] for m in members] == ["培训现场.jpg", "演练视频说明.pdf"]
    assert all(m["path"].startswith(str(media["gbk-names.zip"]) + "!") for m in members)


def test_all_passing_exits_zero(media: dict[str, Path]) -> None:
    result = run("validate", "--json", str(media["ok-1920x1080.jpg"]),
                 str(media["ok-1920x1080.mts"]))
    assert result.returncode == 0, result.stderr
    assert [v["ok"] for v in json.loads(result.stdout)] == [True, True]


def test_usage_and_config_errors_exit_two(tmp_path: Path, media: dict[str, Path]) -> None:
    assert run("validate").returncode == 2
    assert run("validate", str(tmp_path / "nothing-here.jpg")).returncode == 2
    bad = tmp_path / "config.yaml"
    bad.write_text("policy:\n  photo:\n    min_long_side: lots\n", encoding="utf-8")
    result = run("--config", str(bad), "validate", str(media["ok-1920x1080.jpg"]))
    assert result.returncode == 2
    assert "policy.photo.min_long_side" in result.stderr
    assert "Traceback" not in result.stderr
    # An empty folder checks nothing, which is not "all passed".
    (tmp_path / "empty").mkdir()
    result = run("validate", "--json", str(tmp_path / "empty"))
    assert (result.returncode, result.stdout.strip()) == (2, "[]")
    assert "no files found" in result.stderr


def test_folders_are_walked_and_workers_agree(tmp_path: Path, media: dict[str, Path]) -> None:
    folder = tmp_path / "mail" / "nested"
    folder.mkdir(parents=True)
    names = sorted(n for n in media if not n.endswith((".zip", ".doc")))[:24]
    for name in names:
        shutil.copy(media[name], folder / name)
    serial = run("validate", "--json", "--jobs", "1", str(tmp_path / "mail"))
    parallel = run("validate", "--json", "--jobs", "2", str(tmp_path / "mail"))
    assert json.loads(serial.stdout) == json.loads(parallel.stdout)
    assert len(json.loads(serial.stdout)) == len(names)


def test_table_names_each_file_and_counts(media: dict[str, Path]) -> None:
    result = run("validate", str(media["wechat-1280x960.jpg"]), str(media["ok-1920x1080.jpg"]))
    assert result.returncode == 1
    assert "1280×960" in result.stdout and "不合格" in result.stdout
    assert "共2个文件：1个合格，1个不合格" in result.stdout


def test_config_policy_is_applied(tmp_path: Path, media: dict[str, Path]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("policy:\n  photo:\n    formats: [JPEG]\n    min_long_side: 1280\n"
                      "    min_short_side: 960\n", encoding="utf-8")
    result = run("--config", str(config), "validate", "--json",
                 str(media["wechat-1280x960.jpg"]))
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("command", [["--help"], ["validate", "--help"]])
def test_help_works(command: list[str]) -> None:
    assert run(*command).returncode == 0


def test_progress_bar_on_a_terminal_only(tmp_path: Path, media: dict[str, Path]) -> None:
    import os
    import pty

    for index in range(25):
        shutil.copy(media["ok-1920x1080.jpg"], tmp_path / f"{index}.jpg")
    controller, terminal = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "safetymonth", "validate", str(tmp_path)],
                          stdout=subprocess.PIPE, stderr=terminal) as process:
        os.close(terminal)
        stdout, _ = process.communicate(timeout=120)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    os.close(controller)
    assert process.returncode == 0
    assert "检查中".encode() in shown and b"100%" in shown
    piped = run("validate", str(tmp_path))
    assert "检查中" not in piped.stderr
    assert "共25个文件：25个合格" in stdout.decode()
