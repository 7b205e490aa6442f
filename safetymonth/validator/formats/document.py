"""Summaries: PDF, DOCX, DOC and WPS, each checked to be what it claims to be.

A DOCX is a zip holding ``word/document.xml``; a DOC (and a Kingsoft WPS document, which
keeps the same binary layout) is an OLE2 compound file holding a ``WordDocument`` stream; a PDF
starts ``%PDF-`` and ends with ``%%EOF``.
"""

from __future__ import annotations

import zipfile
from pathlib import PurePath
from typing import BinaryIO

from safetymonth.validator import messages
from safetymonth.validator.formats import registry
from safetymonth.validator.formats.base import READ_ERRORS, corrupt, new, read_tail
from safetymonth.validator.verdict import Code, Kind, Verdict

# Other office files: recognised so the reply can name them, but not accepted as summaries.
OOXML_PARTS = {"word/document.xml": "DOCX", "xl/workbook.xml": "XLSX",
               "ppt/presentation.xml": "PPTX"}
OLE_STREAMS = {"WordDocument": "DOC", "Workbook": "XLS", "Book": "XLS",
               "PowerPoint Document": "PPT"}


def probe_pdf(stream: BinaryIO, size: int) -> Verdict:
    verdict = new(Kind.DOCUMENT, "PDF")
    _, tail = read_tail(stream, size, 4096)
    if b"%%EOF" not in tail:
        return corrupt(verdict, "文件不完整，缺少结束标记")
    return verdict


def ooxml_format(archive: zipfile.ZipFile) -> str | None:
    """DOCX, XLSX or PPTX for an Office Open XML package; None for a plain zip."""
    names = set(archive.namelist())
    for part, fmt in OOXML_PARTS.items():
        if part in names:
            return fmt
    return None


def probe_ooxml(archive: zipfile.ZipFile, fmt: str) -> Verdict:
    verdict = new(Kind.DOCUMENT, fmt)
    try:
        with archive.open(_main_part(fmt)) as part:
            part.read(1024)  # the main part inflates: the package is not a renamed shell
    except READ_ERRORS:
        return corrupt(verdict, "文档内容无法读取")
    return verdict


def _main_part(fmt: str) -> str:
    return next(part for part, name in OOXML_PARTS.items() if name == fmt)


def probe_ole(stream: BinaryIO, name: str) -> Verdict:
    """DOC, or WPS when so named: Kingsoft WPS writes the Word binary layout."""
    import olefile  # here, not at the top: config loads this module

    verdict = new(Kind.DOCUMENT, None)
    stream.seek(0)
    try:
        with olefile.OleFileIO(stream) as ole:
            streams = {"/".join(entry) for entry in ole.listdir()}
    except (OSError, ValueError, IndexError):  # olefile raises these on broken files
        return corrupt(verdict, "文档结构无法读取")
    if "EncryptedPackage" in streams:  # a password-protected DOCX is kept in an OLE2 wrapper
        verdict.format = "DOCX" if PurePath(name).suffix.lower() == ".docx" else None
        return verdict.fail(Code.UNSUPPORTED_TYPE, messages.encrypted_document())
    verdict.format = next((fmt for key, fmt in OLE_STREAMS.items() if key in streams), None)
    if verdict.format == "DOC" and PurePath(name).suffix.lower() in (".wps", ".wpt"):
        verdict.format = "WPS"
    if verdict.format is None:
        return corrupt(verdict, "不是可识别的文档")
    return verdict


def _document(name: str, extensions: tuple[str, ...], magic: registry.Magic | None = None,
              settles: bool = True, probe: registry.Probe | None = None) -> None:
    registry.register(registry.Format(name, Kind.DOCUMENT, extensions=extensions, magic=magic,
                                      settles=settles, probe=probe))


# An OLE2 compound file is DOC, WPS, XLS or PPT (``probe_ole`` says which); DOCX, XLSX and
# PPTX are zips, named by ``ooxml_format`` when the zip is opened.
_document("DOC", (".doc", ".dot", ".wps"), settles=False,
          magic=registry.starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
          probe=lambda job: probe_ole(job.stream, job.name))
_document("DOCX", (".docx", ".docm", ".wps", ".wpt"))
_document("WPS", (".wps", ".doc", ".wpt"))
_document("PDF", (".pdf",), magic=registry.starts(b"%PDF-"),
          probe=lambda job: probe_pdf(job.stream, job.size))
_document("XLSX", (".xlsx", ".xlsm", ".et"))
_document("XLS", (".xls", ".et"))
_document("PPTX", (".pptx", ".dps"))
_document("PPT", (".ppt", ".dps"))
