"""``safetymonth generate``: files written, errors as messages with exit 2, PDFs through
LibreOffice (cold for one file, unoserver for a batch), templates_dir from config."""

from __future__ import annotations

import subprocess
from pathlib import Path

import docx
import pdfplumber
from click.testing import CliRunner

from safetymonth.cli import main

DATA = Path(__file__).parent / "data"


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def _config(folder: Path, extra: str = "") -> Path:
    path = folder / "config.yaml"
    path.write_text(f"storage:\n  dir: store\n{extra}", encoding="utf-8")
    return path


def test_notice_with_pdf(tmp_path: Path) -> None:
    out = tmp_path / "通知.docx"
    code, stdout, _ = _run("--config", _config(tmp_path), "generate", "notice",
                           DATA / "notice-weihai-2016.yaml", "-o", out, "--pdf")
    assert code == 0, stdout
    assert out.exists() and out.with_suffix(".pdf").exists()
    assert str(out) in stdout
    with pdfplumber.open(out.with_suffix(".pdf")) as pdf:
        assert "威民发〔2016〕64号" in pdf.pages[0].extract_text().replace(" ", "")


def test_letters_one_per_unit_with_pdfs(tmp_path: Path) -> None:
    out = tmp_path / "letters"
    code, stdout, stderr = _run("--config", _config(tmp_path), "generate", "letter",
                                DATA / "letters-2024.yaml", "-o", out, "--pdf")
    assert code == 0, stderr
    names = ["德化县社会福利中心", "德化县浔中镇敬老院", "德化县儿童福利院", "德化县救助管理站",
             "德化县殡仪馆"]
    assert sorted(p.name for p in out.glob("*.docx")) == sorted(f"{n}.docx" for n in names)
    assert sorted(p.name for p in out.glob("*.pdf")) == sorted(f"{n}.pdf" for n in names)
    assert "5 files in" in stdout and "5 PDF files" in stdout
    with pdfplumber.open(out / "德化县殡仪馆.pdf") as pdf:
        assert "乙方：德化县殡仪馆" in pdf.pages[0].extract_text()
    # The persistent converter and its LibreOffice are gone afterwards.
    running = subprocess.run(["pgrep", "-f", "safetymonth-uno-"], capture_output=True, text=True)
    assert running.stdout == ""


def test_summary_with_empty_store_says_nothing_received(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = _run("--config", _config(tmp_path), "generate", "summary",
                                DATA / "summary-2024.yaml", "-o", out)
    assert code == 0, stderr
    text = "\n".join(p.text for p in docx.Document(str(out / "summary.docx")).paragraphs)
    assert "截至目前，尚未收到各单位报送材料。" in text


def test_templates_dir_from_config_overrides(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notice.md.j2").write_text("{{ body }}\n\n# 附加要求\n\n请按时报送。\n",
                                                     encoding="utf-8")
    config = _config(tmp_path, "docgen:\n  templates_dir: mine\n")
    out = tmp_path / "n.docx"
    code, _, stderr = _run("--config", config, "generate", "notice",
                           DATA / "notice-weihai-2016.yaml", "-o", out)
    assert code == 0, stderr
    texts = [p.text for p in docx.Document(str(out)).paragraphs]
    assert "一、附加要求" in texts and "请按时报送。" in texts


def test_bad_data_is_a_message_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: notice\nissuer: 某局\ntitle: [1, 2]\nbody: 正文\n", encoding="utf-8")
    code, _, stderr = _run("--config", _config(tmp_path), "generate", "notice", bad, "-o",
                           tmp_path / "x.docx")
    assert code == 2
    assert "title: Input should be a valid string" in stderr
    assert "date: Field required" in stderr
    assert "Traceback" not in stderr


def test_unreadable_or_wrong_kind_is_exit_2(tmp_path: Path) -> None:
    config = _config(tmp_path)
    code, _, stderr = _run("--config", config, "generate", "notice", tmp_path / "none.yaml",
                           "-o", tmp_path / "x.docx")
    assert code == 2 and "cannot read" in stderr
    (tmp_path / "broken.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    code, _, stderr = _run("--config", config, "generate", "notice", tmp_path / "broken.yaml",
                           "-o", tmp_path / "x.docx")
    assert code == 2 and "not a valid YAML file" in stderr
    code, _, stderr = _run("--config", config, "generate", "letter",
                           DATA / "summary-2024.yaml", "-o", tmp_path / "x")
    assert code == 2 and "is a 'summary', not a 'letter'" in stderr


def test_letters_show_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """Run the real command on a pseudo-terminal: the bar reaches 100 % on stderr."""
    import os
    import pty
    import sys

    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, with the pty as its terminal
        os.chdir(tmp_path)
        os.execv(sys.executable, [sys.executable, "-m", "safetymonth", "--config",
                                  str(_config(tmp_path)), "generate", "letter",
                                  str(DATA / "letters-2024.yaml"), "-o", "out"])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    text = output.decode()
    assert "letters" in text and "100%" in text
    assert len(list((tmp_path / "out").glob("*.docx"))) == 5
