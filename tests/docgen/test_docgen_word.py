"""What Word and WPS read to find the faces: fontTable.xml, settings, theme, style links."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from safetymonth import docgen
from safetymonth.docgen import documents, models, pdf
from safetymonth.docgen.fonts import Faces

DATA = Path(__file__).parents[1] / "data"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS = {"w": W, "a": A}
USED = {"仿宋_GB2312", "楷体_GB2312", "方正小标宋简体", "黑体", "宋体"}


def _parts(faces: Faces | None = None) -> dict[str, etree._Element]:
    data = models.load(DATA / "notice-weihai-2016.yaml", "notice")
    document = documents.build_notice(data, faces=faces or Faces.from_overrides())
    with zipfile.ZipFile(io.BytesIO(document.to_bytes())) as package:
        return {name: etree.fromstring(package.read(name)) for name in (
            "word/fontTable.xml", "word/settings.xml", "word/styles.xml",
            "word/theme/theme1.xml", "word/document.xml")}


def _val(element: etree._Element, path: str) -> str | None:
    found = element.find(path, NS)
    return None if found is None else found.get(f"{{{W}}}val")


def _used_faces(parts: dict[str, etree._Element]) -> set[str]:
    """Every face a style, run or default names, for East Asian or Latin text."""
    names = set()
    for part in ("word/styles.xml", "word/document.xml"):
        for fonts in parts[part].iter(f"{{{W}}}rFonts"):
            names |= {value for key, value in fonts.attrib.items() if not key.endswith("hint")}
    return names


def test_font_table_lists_exactly_the_faces_used() -> None:
    parts = _parts()
    table = {font.get(f"{{{W}}}name"): font for font in parts["word/fontTable.xml"]}
    assert set(table) == USED == _used_faces(parts)
    expected_alt = {"仿宋_GB2312": "仿宋", "楷体_GB2312": "楷体", "方正小标宋简体": "宋体",
                    "黑体": "SimHei", "宋体": "SimSun"}
    for name, font in table.items():
        assert _val(font, "w:altName") == expected_alt[name]
        assert _val(font, "w:charset") == "86"  # GB2312
        assert _val(font, "w:family") in {"modern", "auto", "script"}
        assert _val(font, "w:pitch") in {"fixed", "variable"}
    assert _val(table["宋体"], "w:panose1") == "02010600030101010101"  # SimSun's own
    assert _val(table["黑体"], "w:panose1") == "02010609060101010101"  # SimHei's own


def test_word_2013_mode_and_chinese_theme() -> None:
    parts = _parts()
    settings = parts["word/settings.xml"]
    modes = [s.get(f"{{{W}}}val") for s in settings.iter(f"{{{W}}}compatSetting")
             if s.get(f"{{{W}}}name") == "compatibilityMode"]
    assert modes == ["15"]
    assert settings.find("w:themeFontLang", NS).get(f"{{{W}}}eastAsia") == "zh-CN"
    theme = parts["word/theme/theme1.xml"]
    assert theme.find(".//a:minorFont/a:ea", NS).get("typeface") == "仿宋_GB2312"
    assert theme.find(".//a:majorFont/a:ea", NS).get("typeface") == "黑体"
    assert theme.find(".//a:minorFont/a:font[@script='Hans']", NS).get("typeface") == "仿宋_GB2312"


def test_no_style_refers_to_a_missing_style() -> None:
    styles = _parts()["word/styles.xml"]
    ids = {style.get(f"{{{W}}}styleId") for style in styles.findall("w:style", NS)}
    references = [(tag, ref.get(f"{{{W}}}val")) for tag in ("link", "basedOn", "next")
                  for ref in styles.iterfind(f"w:style/w:{tag}", NS)]
    assert references, "styles have basedOn links"
    assert all(value in ids for _, value in references), references


def test_config_renames_faces_for_machines_without_gb2312_fonts() -> None:
    faces = Faces.from_overrides({"仿宋_GB2312": "仿宋", "楷体_GB2312": "楷体"})
    parts = _parts(faces)
    assert _used_faces(parts) == {"仿宋", "楷体", "方正小标宋简体", "黑体", "宋体"}
    table = {font.get(f"{{{W}}}name"): font for font in parts["word/fontTable.xml"]}
    assert _val(table["仿宋"], "w:altName") == "仿宋_GB2312"
    assert _val(table["楷体"], "w:charset") == "86"


def test_an_unknown_face_in_config_is_refused() -> None:
    with pytest.raises(docgen.FontError, match="仿宋GB2312: not a standard face"):
        Faces.from_overrides({"仿宋GB2312": "仿宋"})


def test_cli_applies_docgen_fonts(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("docgen:\n  fonts: {仿宋_GB2312: 仿宋}\n  imprint_on_even_page: false\n",
                      encoding="utf-8")
    out = tmp_path / "notice.docx"
    result = subprocess.run(
        [sys.executable, "-m", "safetymonth", "--config", str(config), "generate", "notice",
         str(DATA / "notice-dehua-2024.yaml"), "-o", str(out)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as package:
        table = etree.fromstring(package.read("word/fontTable.xml"))
    assert "仿宋" in {font.get(f"{{{W}}}name") for font in table}
    config.write_text("docgen:\n  fonts: {FangSong: 仿宋}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "safetymonth", "--config", str(config), "generate", "notice",
         str(DATA / "notice-dehua-2024.yaml"), "-o", str(out)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "docgen.fonts: FangSong: not a standard face" in result.stderr
    assert "Traceback" not in result.stderr


def test_pdf_export_names_the_package_when_the_faces_are_missing(tmp_path: Path) -> None:
    """A fontconfig set-up without the Fandol folder (as on a machine without the package):
    the export refuses, naming the package, instead of falling back to a Song face."""
    bare = tmp_path / "fonts.conf"
    bare.write_text('<?xml version="1.0"?>\n<fontconfig><include ignore_missing="yes">'
                    "/etc/fonts/fonts.conf</include></fontconfig>\n", encoding="utf-8")
    assert pdf.missing_faces(bare) == ("FandolFang", "FandolKai")
    with pytest.raises(pdf.PdfError, match="apt-get install --no-install-recommends "
                                           "texlive-lang-chinese"):
        pdf.require_faces(bare)
    assert pdf.missing_faces() == ()  # the shipped fonts.conf finds them
