"""Type by content, never by extension: the magic bytes at the start of a file.

``sniff`` answers with a *family* (which probe reads the file next) and, where the first bytes
already settle it, the final format name. Extensions are consulted only afterwards, to warn
when they disagree (``extension_mismatch``).
"""

from __future__ import annotations

from dataclasses import dataclass

from safetymonth.validator.verdict import Kind

HEAD_SIZE = 4096

# ISO base media brands that are still images, not videos.
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}
# Atoms that open a QuickTime file written without an ftyp box (old cameras and editors).
QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


@dataclass(frozen=True)
class Sniffed:
    # JPEG, PNG, PSD, IMAGE (other Pillow formats), ISOBMFF, AVI, MPEG (program and transport
    # streams: FFmpeg), VIDEO (MediaInfo), PDF, ZIP,
    # OLE2, OTHER_ARCHIVE (RAR, 7z: recognised only to say so)
    family: str
    kind: Kind
    format: str | None = None  # known already from the magic, else decided by the probe


def sniff(head: bytes) -> Sniffed | None:
    """The family of a file from its first bytes, or None when nothing matches."""
    for test in (_image, _iso_media, _other_video, _document):
        found = test(head)
        if found:
            return found
    return None


def _image(head: bytes) -> Sniffed | None:
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("JPEG", Kind.PHOTO, "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("PNG", Kind.PHOTO, "PNG")
    if head.startswith(b"8BPS"):
        return Sniffed("PSD", Kind.PHOTO, "PSD")
    others = {b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP", b"II*\x00": "TIFF",
              b"MM\x00*": "TIFF"}
    for magic, name in others.items():
        if head.startswith(magic):
            return Sniffed("IMAGE", Kind.PHOTO, name)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("IMAGE", Kind.PHOTO, "WEBP")
    return None


def _iso_media(head: bytes) -> Sniffed | None:
    """MP4, MOV, 3GP, HEIC and AVIF all share the ISO base media layout."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        brands = {brand} | {head[i:i + 4] for i in range(16, min(len(head), 64), 4)}
        if brand in HEIF_BRANDS or (brand not in AVIF_BRANDS and brands & HEIF_BRANDS
                                    and b"isom" not in brands):
            return Sniffed("ISOBMFF", Kind.PHOTO, "HEIC")
        if brands & AVIF_BRANDS:
            return Sniffed("ISOBMFF", Kind.PHOTO, "AVIF")
        return Sniffed("ISOBMFF", Kind.VIDEO)
    if head[4:8] in QUICKTIME_ATOMS:
        return Sniffed("ISOBMFF", Kind.VIDEO)
    return None


def _other_video(head: bytes) -> Sniffed | None:
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("AVI", Kind.VIDEO, "AVI")
    if head.startswith(b"\x00\x00\x01\xba"):
        return Sniffed("MPEG", Kind.VIDEO)  # MPEG program stream: MPG2 or MPEG-1
    if _packets(head, 0, 188) or _packets(head, 4, 192):
        return Sniffed("MPEG", Kind.VIDEO)  # MPEG-TS or BDAV
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska or WebM: the EBML DocType says
        doc_type = "WEBM" if b"webm" in head[:64] else "MKV" if b"matroska" in head[:64] else None
        return Sniffed("VIDEO", Kind.VIDEO, doc_type)
    if head.startswith(b"FLV\x01"):
        return Sniffed("VIDEO", Kind.VIDEO, "FLV")
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return Sniffed("VIDEO", Kind.VIDEO, "WMV")
    return None


def _packets(head: bytes, offset: int, size: int) -> bool:
    """Three sync bytes (0x47) ``size`` apart: a transport stream."""
    positions = [offset + size * n for n in range(3)]
    return len(head) > positions[-1] and all(head[p] == 0x47 for p in positions)


def _document(head: bytes) -> Sniffed | None:
    if head.startswith(b"%PDF-"):
        return Sniffed("PDF", Kind.DOCUMENT, "PDF")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return Sniffed("ZIP", Kind.ARCHIVE)  # DOCX or a plain archive: the probe decides
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Sniffed("OLE2", Kind.DOCUMENT)  # DOC or WPS: the probe decides
    if head.startswith(b"Rar!\x1a\x07"):
        return Sniffed("OTHER_ARCHIVE", Kind.ARCHIVE, "RAR")
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return Sniffed("OTHER_ARCHIVE", Kind.ARCHIVE, "7Z")
    return None


# Which extensions are honest names for each format we report.
EXTENSIONS = {
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "PNG": {".png"},
    "PSD": {".psd", ".psb"},
    "GIF": {".gif"},
    "BMP": {".bmp"},
    "TIFF": {".tif", ".tiff"},
    "WEBP": {".webp"},
    "HEIC": {".heic", ".heif", ".hif"},
    "AVIF": {".avif"},
    "MP4": {".mp4", ".m4v"},
    "MOV": {".mov", ".qt"},
    "3GP": {".3gp", ".3g2"},
    "MPG2": {".mpg", ".mpeg", ".mpg2", ".m2p", ".vob", ".mpe"},
    "MPEG-1": {".mpg", ".mpeg", ".m1v", ".mpe", ".dat"},
    "AVI": {".avi"},
    "MTS": {".mts", ".m2ts", ".m2t"},
    "TS": {".ts", ".mts", ".m2ts", ".m2t", ".tsv"},
    "MKV": {".mkv"},
    "WEBM": {".webm"},
    "FLV": {".flv"},
    "WMV": {".wmv", ".asf"},
    "PDF": {".pdf"},
    "DOCX": {".docx", ".docm", ".wps", ".wpt"},
    "DOC": {".doc", ".dot", ".wps"},
    "WPS": {".wps", ".doc", ".wpt"},
    "XLSX": {".xlsx", ".xlsm", ".et"},
    "PPTX": {".pptx", ".dps"},
    "XLS": {".xls", ".et"},
    "PPT": {".ppt", ".dps"},
    "ZIP": {".zip"},
    "RAR": {".rar"},
    "7Z": {".7z"},
}


def extension_mismatch(suffix: str, fmt: str | None) -> bool:
    """True when a file named ``*.suffix`` turns out to be ``fmt``; unknown formats never are."""
    if not fmt or fmt not in EXTENSIONS:
        return False
    return suffix.lower() not in EXTENSIONS[fmt]
