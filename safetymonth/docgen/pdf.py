"""PDF export through LibreOffice, with the standard font names mapped by ``fonts.conf``.

One LibreOffice start for a whole conversion, one file or a batch: unoconvert.py, run by an
interpreter that can ``import uno`` (only Debian's ``/usr/bin/python3`` has python3-uno, not
our venv), starts it on a private profile, switches off the spacing between Chinese and
digits in each document's model (autospace.py says why) and exports every PDF. Without such
an interpreter a conversion takes two ``soffice --convert-to`` runs instead: .docx → flat ODF,
rewritten by autospace.py, → PDF.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from safetymonth.docgen import autospace
from safetymonth.docgen.models import DocgenError

FONTS_CONF = Path(__file__).with_name("fonts.conf")
# The faces fonts.conf maps 仿宋 and 楷体 to, and the Debian package that holds them.
REQUIRED_FACES = ("FandolFang", "FandolKai")
FACES_PACKAGE = "texlive-lang-chinese"
UNO_PYTHONS = ("/usr/bin/python3",)
CONVERT_TIMEOUT = 180  # seconds for a cold conversion, plus PER_FILE_TIMEOUT per file
PER_FILE_TIMEOUT = 10
# The step between .docx and PDF, where Chinese-digit spacing can be switched off.
FLAT_ODF = "fodt"
# Run as a file by the uno-capable interpreter; it imports nothing of ours.
UNO_SCRIPT = Path(__file__).with_name("unoconvert.py")
NO_UNO = 3  # its exit status where the interpreter cannot import uno


class PdfError(DocgenError):
    """LibreOffice is missing or a conversion failed."""


def soffice() -> str:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfError("LibreOffice is not installed (Debian: apt-get install "
                   "libreoffice-writer-nogui)")


def font_environment(conf: Path = FONTS_CONF) -> dict[str, str]:
    """The environment LibreOffice runs in: our fontconfig map in front of the system's."""
    return os.environ | {"FONTCONFIG_FILE": str(conf)}


@functools.cache
def missing_faces(conf: Path = FONTS_CONF) -> tuple[str, ...]:
    """The REQUIRED_FACES fontconfig cannot find with ``conf`` (none when fc-list is absent:
    then nothing can be checked, and LibreOffice's own fallback applies)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return ()
    return tuple(face for face in REQUIRED_FACES if subprocess.run(
        [fc_list, "-q", face], env=font_environment(conf), check=False).returncode)


def require_faces(conf: Path = FONTS_CONF) -> None:
    """Refuse to export when 仿宋/楷体 would silently fall back to another face."""
    missing = missing_faces(conf)
    if missing:
        raise PdfError(f"the fonts {', '.join(missing)} for 仿宋/楷体 are not installed "
                       f"(Debian: apt-get install --no-install-recommends {FACES_PACKAGE})")


def convert_cold(paths: Sequence[Path], outdir: Path, *, one_start: bool = True) -> list[Path]:
    """PDFs of ``paths`` in ``outdir``, from one LibreOffice started for them alone.

    A private, throw-away profile keeps this run from handing its files to another
    LibreOffice the user (or a test) already has open, which would ignore our fonts and our
    output folder. ``one_start=False`` (or no uno-capable interpreter) takes the older way of
    two ``soffice --convert-to`` runs through flat ODF.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    return to_pdf(paths, outdir, one_start=one_start)


def _one_start(python: str, paths: Sequence[Path],
               targets: Sequence[Path]) -> list[Path] | None:
    """Every file through unoconvert.py: one LibreOffice, the spacing switched off in its
    model (see autospace.py for why), each PDF exported from there. None where ``python``
    cannot import uno."""
    timeout = CONVERT_TIMEOUT + PER_FILE_TIMEOUT * len(paths)
    pairs = [str(part) for pair in zip(paths, targets, strict=True) for part in pair]
    with tempfile.TemporaryDirectory(prefix="safetymonth-lo-") as profile:
        # -I: isolated, so that the script's own folder (statistics.py...) shadows nothing.
        command = [python, "-I", str(UNO_SCRIPT), soffice(), profile, f"{timeout:g}", *pairs]
        try:
            result = subprocess.run(command, env=font_environment(), capture_output=True,
                                    text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise PdfError(f"LibreOffice did not finish converting {len(paths)} file(s) "
                           f"within {timeout:g} s") from error
        finally:
            _kill_leftovers(profile)  # an oosplash or soffice.bin the script left behind
    if result.returncode == NO_UNO:
        return None
    missing = [str(source) for source, target in zip(paths, targets, strict=True)
               if not target.exists()]
    if result.returncode or missing:
        raise PdfError(f"LibreOffice could not convert {', '.join(missing) or 'the files'}: "
                       f"{(result.stderr or result.stdout).strip()[-300:]}")
    return list(targets)


def _two_starts(paths: Sequence[Path], outdir: Path) -> list[Path]:
    """The way without uno: .docx → flat ODF in one ``soffice`` run, the flat ODF rewritten
    (autospace.py), → PDF in a second run."""
    timeout = CONVERT_TIMEOUT + PER_FILE_TIMEOUT * len(paths)
    with tempfile.TemporaryDirectory(prefix="safetymonth-lo-") as profile, \
            tempfile.TemporaryDirectory(prefix="safetymonth-odf-") as flat_dir:
        flats = _soffice(profile, FLAT_ODF, paths, Path(flat_dir), timeout)
        for flat in flats:
            autospace.switch_off(flat)
        return _soffice(profile, "pdf", flats, outdir, timeout)


def _soffice(profile: str, target: str, paths: Sequence[Path], outdir: Path,
             timeout: float) -> list[Path]:
    """One ``soffice --convert-to target`` run; the files it made, in the order of paths."""
    command = [soffice(), f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
               "--norestore", "--convert-to", target, "--outdir", str(outdir),
               *map(str, paths)]
    try:
        result = subprocess.run(command, env=font_environment(), capture_output=True,
                                text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        _kill_leftovers(profile)  # soffice's children outlive the killed launcher
        raise PdfError(f"LibreOffice did not finish converting {len(paths)} file(s) "
                       f"within {timeout:g} s") from error
    made = [outdir / f"{path.stem}.{target}" for path in paths]
    missing = [str(source) for source, path in zip(paths, made, strict=True)
               if not path.exists()]
    if result.returncode or missing:
        raise PdfError(f"LibreOffice could not convert {', '.join(missing) or 'the files'}: "
                       f"{(result.stderr or result.stdout).strip()[-300:]}")
    return made


def uno_python() -> str | None:
    """The interpreter to run unoconvert.py: ours when it has ``uno``, else Debian's
    python3 (python3-uno), not asked beforehand (that would cost an interpreter start): the
    script says itself when it cannot import uno (exit status NO_UNO)."""
    if importlib.util.find_spec("uno") is not None:
        return sys.executable
    return next((python for python in UNO_PYTHONS if Path(python).exists()), None)


def _kill_leftovers(marker: str) -> None:
    """Kill any process still running with our private profile path on its command line.

    The ``soffice`` launcher's oosplash ignores SIGTERM and can keep LibreOffice alive after
    its parent is gone. (soffice.bin cannot be started directly instead: on a fresh profile
    it exits to be restarted by oosplash.) The path is a fresh temporary folder, so only
    processes this conversion started match.
    """
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), 9)


def to_pdf(paths: Sequence[Path], outdir: Path | None = None, *,
           one_start: bool = True) -> list[Path]:
    """PDFs of ``paths`` (beside each, or in ``outdir``), all from one LibreOffice start
    (without uno: two starts for each output folder)."""
    if not paths:
        return []
    require_faces()
    targets = [(outdir or path.parent) / f"{path.stem}.pdf" for path in paths]
    for folder in {target.parent for target in targets}:
        folder.mkdir(parents=True, exist_ok=True)
    python = uno_python() if one_start else None
    made = _one_start(python, paths, targets) if python else None
    return _cold_by_folder(paths, outdir) if made is None else made


def _cold_by_folder(paths: Sequence[Path], outdir: Path | None) -> list[Path]:
    made: dict[Path, Path] = {}
    folders: dict[Path, list[Path]] = {}
    for path in paths:
        folders.setdefault(outdir or path.parent, []).append(path)
    for folder, group in folders.items():
        made.update(zip(group, _two_starts(group, folder), strict=True))
    return [made[path] for path in paths]


def unite(pdfs: Sequence[Path], target: Path, double_sided: bool = True) -> Path:
    """One PDF of ``pdfs`` in their order (poppler's pdfunite), for printing a batch.

    Double-sided, a blank page follows each document with an odd number of pages, so that
    every document starts on the front of a sheet.
    """
    tool = shutil.which("pdfunite")
    if tool is None:
        raise PdfError("pdfunite is not installed (Debian: apt-get install poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="safetymonth-unite-") as folder:
        blank = Path(folder) / "blank.pdf"
        blank.write_bytes(blank_a4())
        parts: list[Path] = []
        for path in pdfs:
            parts.append(path)
            if double_sided and page_count(path) % 2:
                parts.append(blank)
        result = subprocess.run([tool, *map(str, parts), str(target)], capture_output=True,
                                text=True, timeout=CONVERT_TIMEOUT, check=False)
    if result.returncode:
        raise PdfError(f"could not combine the PDFs into {target}: {result.stderr.strip()}")
    return target


# A page object of a PDF (not the /Pages tree nodes); LibreOffice writes them uncompressed.
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def page_count(path: Path) -> int:
    """Pages of a PDF that LibreOffice wrote."""
    return len(_PAGE_OBJECT.findall(path.read_bytes()))


def blank_a4() -> bytes:
    """A one-page PDF with an empty A4 page (595 × 842 pt)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] /Resources << >> >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)
