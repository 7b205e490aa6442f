"""PDF export through LibreOffice, with the standard font names mapped by ``fonts.conf``.

One file: a cold ``soffice --headless --convert-to pdf``. A batch: one persistent LibreOffice
behind unoserver, about five times faster per file. unoserver's server imports ``uno``, which
only Debian's ``/usr/bin/python3`` has (python3-uno), so the server runs under that
interpreter with unoserver's pure-Python package borrowed from our environment, and the
client runs here. Without a usable server the batch falls back to one cold ``soffice`` call.
Either way a file goes .docx → flat ODF → PDF, so that Chinese and digits are not spaced apart
(autospace.py).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from safetymonth.docgen import autospace
from safetymonth.docgen.models import DocgenError

FONTS_CONF = Path(__file__).with_name("fonts.conf")
# The faces fonts.conf maps 仿宋 and 楷体 to, and the Debian package that holds them.
REQUIRED_FACES = ("FandolFang", "FandolKai")
FACES_PACKAGE = "texlive-lang-chinese"
UNO_PYTHONS = (sys.executable, "/usr/bin/python3")
START_TIMEOUT = 60.0
CONVERT_TIMEOUT = 180  # seconds for a cold conversion, plus PER_FILE_TIMEOUT per file
PER_FILE_TIMEOUT = 10
# The step between .docx and PDF, where Chinese-digit spacing can be switched off.
FLAT_ODF = "fodt"
# Runs under the uno-capable interpreter: unoserver comes after its own paths, never before.
_SERVER_BOOT = ("import sys; sys.path.append(sys.argv.pop(1)); "
                "from unoserver.server import main; sys.argv[0] = 'unoserver'; main()")


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


def convert_cold(paths: Sequence[Path], outdir: Path) -> list[Path]:
    """Convert with ``soffice --headless`` runs and a private, throw-away profile.

    A private profile keeps this run from handing its files to another LibreOffice the user
    (or a test) already has open, which would ignore our fonts and our output folder. The
    files go through flat ODF on the way (see autospace.py): one run for each step.
    """
    require_faces()
    outdir.mkdir(parents=True, exist_ok=True)
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
    """An interpreter that can ``import uno`` (Debian's python3 with python3-uno), if any."""
    for python in dict.fromkeys(UNO_PYTHONS):
        if Path(python).exists() and subprocess.run(
                [python, "-c", "import uno"], capture_output=True, check=False).returncode == 0:
            return python
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class UnoConverter:
    """A persistent LibreOffice behind unoserver; use as a context manager."""

    def __init__(self) -> None:
        python = uno_python()
        spec = importlib.util.find_spec("unoserver")
        if python is None or spec is None or spec.origin is None:
            raise PdfError("unoserver needs python3-uno and the unoserver package")
        self._python = python
        self._package_parent = str(Path(spec.origin).parent.parent)
        # Named after this process, so its own LibreOffice can be told from another run's.
        self._profile = tempfile.TemporaryDirectory(prefix=f"safetymonth-uno-{os.getpid()}-")
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> UnoConverter:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        command = [self._python, "-c", _SERVER_BOOT, self._package_parent,
                   "--port", str(self.port), "--uno-port", str(_free_port()),
                   "--executable", soffice(), "--quiet",
                   "--user-installation", self._profile.name]
        self._process = subprocess.Popen(command, env=font_environment(),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        import xmlrpc.client

        deadline = time.monotonic() + START_TIMEOUT
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.port}", allow_none=True)
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise PdfError("unoserver exited while starting")
            with contextlib.suppress(OSError, xmlrpc.client.Error):
                proxy.info()
                return
            time.sleep(0.2)
        self.stop()
        raise PdfError(f"unoserver did not start within {START_TIMEOUT:.0f} s")

    def convert(self, path: Path, outdir: Path) -> Path:
        from unoserver.client import UnoClient

        outdir.mkdir(parents=True, exist_ok=True)
        target = outdir / (path.stem + ".pdf")
        client = UnoClient(port=str(self.port))
        with tempfile.TemporaryDirectory(prefix="safetymonth-odf-") as flat_dir:
            flat = Path(flat_dir) / f"{path.stem}.{FLAT_ODF}"
            try:
                client.convert(inpath=str(path.resolve()), outpath=str(flat),
                               convert_to=FLAT_ODF)
                autospace.switch_off(flat)
                client.convert(inpath=str(flat), outpath=str(target.resolve()),
                               convert_to="pdf")
            except Exception as error:  # xmlrpc faults carry LibreOffice's own message
                raise PdfError(f"LibreOffice could not convert {path}: {error}") from error
        return target

    def stop(self) -> None:
        """Stop the server and its LibreOffice (one process group), then drop the profile."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, 15)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, 9)
                self._process.wait()
        self._process = None
        _kill_leftovers(self._profile.name)
        self._profile.cleanup()


def _kill_leftovers(marker: str) -> None:
    """Kill any process still running with our private profile path on its command line.

    unoserver stops the ``soffice`` launcher it started, but the launcher's oosplash ignores
    SIGTERM and keeps LibreOffice alive. (soffice.bin cannot be started directly instead: on a
    fresh profile it exits to be restarted by oosplash.) The path is a fresh temporary folder,
    so only processes this converter started match.
    """
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), 9)


@contextlib.contextmanager
def converter() -> Iterator[UnoConverter | None]:
    """A running unoserver, or None where it cannot start (the caller goes cold)."""
    try:
        server = UnoConverter()
        server.start()
    except PdfError:
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


def to_pdf(paths: Sequence[Path], outdir: Path | None = None) -> list[Path]:
    """PDFs of ``paths`` (beside each, or in ``outdir``): warm server for a batch, else cold."""
    if not paths:
        return []
    require_faces()
    if len(paths) == 1:
        return convert_cold(paths, outdir or paths[0].parent)
    with converter() as server:
        if server is None:
            return _cold_by_folder(paths, outdir)
        return [server.convert(path, outdir or path.parent) for path in paths]


def _cold_by_folder(paths: Sequence[Path], outdir: Path | None) -> list[Path]:
    made: dict[Path, Path] = {}
    folders: dict[Path, list[Path]] = {}
    for path in paths:
        folders.setdefault(outdir or path.parent, []).append(path)
    for folder, group in folders.items():
        made.update(zip(group, convert_cold(group, folder), strict=True))
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
