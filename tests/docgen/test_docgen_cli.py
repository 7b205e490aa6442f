"""``safetymonth generate``: files written, errors as messages with exit 2, PDFs through
LibreOffice (one start for a whole conversion), templates_dir from config."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import docx
import pdfplumber
import pytest
import yaml
from click.testing import CliRunner

from safetymonth.cli import main

DATA = Path(__file__).parents[1] / "data"


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def _config(folder: Path, extra: str = "") -> Path:
    path = folder / "config.yaml"
    path.write_text(f"storage:\n  dir: store\n{extra}", encoding="utf-8")
    return path


@pytest.mark.libreoffice
def test_notice_with_pdf(tmp_path: Path) -> None:
    out = tmp_path / "通知.docx"
    code, stdout, _ = _run("--config", _config(tmp_path), "generate", "notice",
                           DATA / "notice-weihai-2016.yaml", "-o", out, "--pdf")
    assert code == 0, stdout
    assert out.exists() and out.with_suffix(".pdf").exists()
    assert str(out) in stdout
    with pdfplumber.open(out.with_suffix(".pdf")) as pdf:
        assert "威民发〔2016〕64号" in pdf.pages[0].extract_text().replace(" ", "")


@pytest.mark.libreoffice
def test_letters_one_per_unit_with_pdfs(tmp_path: Path) -> None:
    out = tmp_path / "letters"
    code, stdout, stderr = _run("--config", _config(tmp_path), "generate", "letter",
                                DATA / "letters-2024.yaml", "-o", out, "--pdf")
    assert code == 0, stderr
    names = ["德化县社会福利中心", "德化县浔中镇敬老院", "德化县儿童福利院", "德化县救助管理站",
             "德化县殡仪馆"]
    # In roster order, as the data file lists the units.
    assert sorted(p.name for p in out.glob("*.docx")) == [
        f"{number:02d}-{name}.docx" for number, name in enumerate(names, start=1)]
    assert sorted(p.name for p in out.glob("*.pdf")) == [
        f"{number:02d}-{name}.pdf" for number, name in enumerate(names, start=1)]
    assert "5 files in" in stdout and "5 PDF files" in stdout
    with pdfplumber.open(out / "05-德化县殡仪馆.pdf") as pdf:
        assert "乙方：德化县殡仪馆" in pdf.pages[0].extract_text()
    # The persistent converter and its LibreOffice are gone afterwards (ours: a benchmark
    # running beside the tests has its own).
    running = subprocess.run(["pgrep", "-f", f"safetymonth-uno-{os.getpid()}-"],
                             capture_output=True, text=True)
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


def _letters_with_units(folder: Path, names: list[str]) -> Path:
    raw = yaml.safe_load((DATA / "letters-2024.yaml").read_text(encoding="utf-8"))
    raw["units"] = [{"name": name} for name in names]
    path = folder / "letters.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_colliding_unit_names_still_give_one_file_each(tmp_path: Path) -> None:
    names = ["a/b", "a:b", "..", "...", " ", "CON", "A_B", "甲单位"]
    out = tmp_path / "letters"
    code, stdout, stderr = _run("--config", _config(tmp_path), "generate", "letter",
                                _letters_with_units(tmp_path, names), "-o", out)
    assert code == 0, stderr
    written = sorted(path.name for path in out.iterdir())
    assert len(written) == 8 and "8 files in" in stdout
    assert written == ["01-a_b.docx", "02-a_b.docx", "03-单位.docx", "04-单位.docx",
                       "05-单位.docx", "06-_CON.docx", "07-A_B.docx", "08-甲单位.docx"]
    texts = {name: "\n".join(p.text for p in docx.Document(str(out / name)).paragraphs)
             for name in written}
    assert "乙方：a:b" in texts["02-a_b.docx"] and "乙方：..." in texts["04-单位.docx"]


def _no_traceback(code: int, stderr: str, expected_code: int, message: str) -> None:
    assert code == expected_code, stderr
    assert message in stderr, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr


def test_an_impossible_date_is_a_message_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (DATA / "notice-dehua-2024.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("date: 2024-05-31", "date: 2024-13-01"), encoding="utf-8")
    code, _, stderr = _run("--config", _config(tmp_path), "generate", "notice", bad, "-o",
                           tmp_path / "x.docx")
    _no_traceback(code, stderr, 2, "date: “2024-13-01”：没有13月，月份为1至12 (no month 13)")


@pytest.mark.libreoffice
def test_notice_with_pdf_starts_libreoffice_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23: one ``soffice`` start makes the PDF (not one for flat ODF, one for the PDF).
    Counted by a real ``soffice`` first on PATH that logs each start and runs the real one."""
    real = shutil.which("soffice")
    assert real is not None
    wrappers, log = tmp_path / "bin", tmp_path / "starts.log"
    wrappers.mkdir()
    (wrappers / "soffice").write_text(
        f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n', encoding="utf-8")
    (wrappers / "soffice").chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "通知.docx"
    code, stdout, _ = _run("--config", _config(tmp_path), "generate", "notice",
                           DATA / "notice-weihai-2016.yaml", "-o", out, "--pdf")
    assert code == 0, stdout
    starts = log.read_text(encoding="utf-8").splitlines()
    assert len(starts) == 1, starts
    assert "-env:UserInstallation=file://" in starts[0]  # its own profile
    with pdfplumber.open(out.with_suffix(".pdf")) as document:
        assert "威海" in (document.pages[0].extract_text() or "")


def test_an_unwritable_output_is_a_message_and_exit_1(tmp_path: Path) -> None:
    config = _config(tmp_path)
    notice = DATA / "notice-dehua-2024.yaml"
    code, _, stderr = _run("--config", config, "generate", "notice", notice,
                           "-o", "/proc/x.docx")
    _no_traceback(code, stderr, 1, "/proc/x.docx: cannot write")
    existing = tmp_path / "existing"
    existing.write_text("", encoding="utf-8")
    code, _, stderr = _run("--config", config, "generate", "letter",
                           DATA / "letters-2024.yaml", "-o", existing)
    _no_traceback(code, stderr, 1, f"{existing}: is a file; letters go into a folder")
    code, _, stderr = _run("--config", config, "generate", "notice", notice, "-o", existing)
    _no_traceback(code, stderr, 1, f"{existing}: is a file")
    code, _, stderr = _run("--config", config, "generate", "notice", notice,
                           "-o", existing / "n.docx")
    _no_traceback(code, stderr, 1, f"{existing}: cannot write there")
    assert existing.read_text(encoding="utf-8") == ""


def test_a_failing_template_expression_is_a_message_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notice.md.j2").write_text('{{ body }}\n{{ 1 + "a" }}\n',
                                                     encoding="utf-8")
    config = _config(tmp_path, "docgen:\n  templates_dir: mine\n")
    code, _, stderr = _run("--config", config, "generate", "notice",
                           DATA / "notice-dehua-2024.yaml", "-o", tmp_path / "n.docx")
    _no_traceback(code, stderr, 2, "notice.md.j2:2: TypeError: unsupported operand")


def test_a_missing_templates_dir_is_refused_with_exit_2(tmp_path: Path) -> None:
    config = _config(tmp_path, "docgen:\n  templates_dir: no-such-folder\n")
    for kind, data in (("notice", "notice-dehua-2024.yaml"), ("letter", "letters-2024.yaml")):
        code, _, stderr = _run("--config", config, "generate", kind, DATA / data,
                               "-o", tmp_path / "out", "--jobs", "2")
        _no_traceback(code, stderr, 2,
                      f"docgen.templates_dir: {tmp_path / 'no-such-folder'}: no such folder")
    assert not (tmp_path / "out").exists()


def test_a_libreoffice_that_hangs_is_a_message_and_exit_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetymonth.docgen import pdf

    hanging = tmp_path / "soffice"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n", encoding="utf-8")
    hanging.chmod(0o755)
    monkeypatch.setattr(pdf, "soffice", lambda: str(hanging))
    monkeypatch.setattr(pdf, "CONVERT_TIMEOUT", 1)
    monkeypatch.setattr(pdf, "PER_FILE_TIMEOUT", 0)
    out = tmp_path / "n.docx"
    code, stdout, stderr = _run("--config", _config(tmp_path), "generate", "notice",
                                DATA / "notice-dehua-2024.yaml", "-o", out, "--pdf")
    _no_traceback(code, stderr, 1, "LibreOffice did not finish converting 1 file(s) within 1 s")
    assert out.exists() and str(out) in stdout  # the .docx was written before


@pytest.mark.libreoffice
@pytest.mark.parametrize("double_sided", [True, False])
def test_combined_pdf_holds_every_letter_in_roster_order(tmp_path: Path,
                                                         double_sided: bool) -> None:
    """The roster is not in character order; each letter starts on the front of a sheet
    when printed double-sided (a blank page after an odd one), back to back otherwise."""
    raw = yaml.safe_load((DATA / "letters-2024.yaml").read_text(encoding="utf-8"))
    raw["units"] = raw["units"][::-1]
    roster = [unit["name"] for unit in raw["units"]]
    data = tmp_path / "letters.yaml"
    data.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = _config(tmp_path, f"docgen:\n  imprint_on_even_page: {str(double_sided).lower()}\n")
    out = tmp_path / "letters"
    code, stdout, stderr = _run("--config", config, "generate", "letter", data, "-o", out,
                                "--combined")
    assert code == 0, stderr
    combined = out / "00-全部责任书.pdf"
    assert str(combined) in stdout
    with pdfplumber.open(combined) as document:
        texts = [page.extract_text() or "" for page in document.pages]
    starts = [index for index, text in enumerate(texts) if "乙方：" in text]
    names = [re.search(r"乙方：(\S+?)（", texts[index]).group(1) for index in starts]
    assert names == roster
    singles = []
    for number, name in enumerate(roster, start=1):
        with pdfplumber.open(out / f"{number:02d}-{name}.pdf") as document:
            singles.append(len(document.pages))
    if double_sided:
        assert all(start % 2 == 0 for start in starts)  # page 1, 3, 5… (0-based even)
        assert len(texts) == sum(pages + pages % 2 for pages in singles)
        assert any(pages % 2 for pages in singles)  # a blank page was needed somewhere
    else:
        assert len(texts) == sum(singles)
