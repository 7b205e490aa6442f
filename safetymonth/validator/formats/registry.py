"""The one place format knowledge lives: a :class:`Format` per format, registered by its own
plugin module, as Pillow's ``*ImagePlugin.py`` end with ``register_open``,
``register_extension`` and ``register_mime``.

Sniffing tries the magic tests in registration order (the order ``formats/__init__`` imports
the plugins, then whatever registers later), so a test that would also match another
format's first bytes registers after it. The policy's allowed names, their aliases, the labels
and fixes a clerk reads, the honest extensions, the sandbox workers' pre-imports and the
console's content types and thumbnails are all read from here.

Cheap to import by design: ``config`` asks it for the names a policy may list while it loads,
so neither this module nor a plugin's top level imports a parser (Pillow, MediaInfo, PyAV);
each imports its parser inside the probe that needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Literal

from safetymonth.validator.verdict import Kind, Verdict

if TYPE_CHECKING:
    from safetymonth.config import Policy
    from safetymonth.validator.sandbox import Source

Magic = Callable[[bytes], bool]
Thumbnail = Literal["photo", "poster"]
# For a name the registry does not hold (MediaInfo may report any container): by kind.
DEFAULT_THUMBNAILS: dict[str, Thumbnail] = {"photo": "photo", "video": "poster"}


@dataclass(frozen=True)
class Job:
    """What a probe reads: the open stream of ``size`` bytes reported as ``name``, the policy,
    where a sandbox worker finds the same bytes, and the name the first bytes settled (None
    when they did not: the probe names the file, e.g. MP4 or MOV)."""

    stream: BinaryIO
    size: int
    name: str
    policy: Policy
    source: Source
    named: str | None


Probe = Callable[[Job], Verdict]


@dataclass(frozen=True)
class Format:
    """All the product knows about one format.

    ``magic`` is tried on the first 4 KB; a format without one is only ever named by the
    probe of another that shares its layout (MOV by MP4's, DOCX by the ZIP reader).
    ``settles`` says whether a magic match names the file (True), never does (False: the
    probe decides, e.g. an MPEG program stream is MPG2 or MPEG-1), or does for some first
    bytes only (a test). ``sandbox`` lists the modules the parts of its probe that run in a
    sandbox worker import, which each worker imports as it starts, under its memory cap;
    empty: nothing of it runs in a worker. ``thumbnail`` is how the console pictures it;
    ``content_type`` what a browser is told when the console shows it inline (None: it is
    only ever downloaded)."""

    name: str
    kind: Kind
    label: str = ""  # how a clerk reads the name, when not the name itself ("JPG")
    extensions: tuple[str, ...] = ()  # the honest ones, lower case with the dot
    aliases: tuple[str, ...] = ()  # what people write for it in config.yaml ("JPG")
    magic: Magic | None = None
    settles: bool | Magic = True
    probe: Probe | None = None
    fix: str | None = None  # what a clerk is told to do when a policy refuses it
    sandbox: tuple[str, ...] = ()
    thumbnail: Thumbnail | None = None
    content_type: str | None = None

    def named_by(self, head: bytes) -> str | None:
        """The name the first bytes settle, given that the magic matched."""
        settled = self.settles(head) if callable(self.settles) else self.settles
        return self.name if settled else None


@dataclass(frozen=True)
class Sniffed:
    """A magic match: ``reader`` is the format whose probe reads the file next, ``name`` the
    final name when the first bytes already settle it."""

    reader: Format
    name: str | None

    @property
    def kind(self) -> Kind:
        return self.reader.kind


_formats: dict[str, Format] = {}  # insertion order is the sniff order
_lock = threading.Lock()


def register(fmt: Format) -> Format:
    """Add ``fmt`` after those registered before it; a name is registered once. A format
    with a magic test reads what it matches, so it brings a probe (only an archive is
    recognised to be named alone: ``check`` opens a ZIP itself)."""
    if fmt.magic is not None and fmt.probe is None and fmt.kind is not Kind.ARCHIVE:
        raise ValueError(f"format {fmt.name} has a magic test but no probe")
    with _lock:
        if fmt.name in _formats:
            raise ValueError(f"format {fmt.name} is already registered")
        _formats[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    """Forget a format (a test's own, once it is done with it)."""
    with _lock:
        _formats.pop(name, None)


def formats() -> list[Format]:
    """Every format, in sniff order."""
    return list(_formats.values())


def get(name: str | None) -> Format | None:
    return _formats.get(name or "")


def names(*kinds: str) -> tuple[str, ...]:
    """The names of the formats of ``kinds``, in registration order: what a policy may list."""
    return tuple(fmt.name for fmt in formats() if fmt.kind in kinds)


def canonical(written: object) -> str:
    """A name as config.yaml writes it, upper-cased, with an alias resolved (JPG → JPEG)."""
    name = str(written).strip().upper()
    return next((fmt.name for fmt in formats() if name in fmt.aliases), name)


def sniff(head: bytes) -> Sniffed | None:
    """The first format whose magic test matches ``head``, or None."""
    for fmt in formats():
        if fmt.magic is not None and fmt.magic(head):
            return Sniffed(fmt, fmt.named_by(head))
    return None


def label(name: str | None) -> str:
    """How a clerk reads a format's name; an unregistered name as it is."""
    fmt = get(name)
    return (fmt.label or fmt.name) if fmt else (name or "未知")


def honest_extension(suffix: str, name: str | None) -> bool:
    """Whether ``*.suffix`` is an honest name for a file of format ``name``; true for a format
    the registry does not know, or that names no extensions."""
    fmt = get(name)
    return fmt is None or not fmt.extensions or suffix.lower() in fmt.extensions


def thumbnail_for(kind: str, name: str | None) -> Thumbnail | None:
    """How the console pictures a file the validator judged of ``kind`` and format ``name``:
    as that format registered, or as its kind is pictured when the registry does not know
    it (MediaInfo may name any container) or knows it as another kind."""
    fmt = get(name)
    return fmt.thumbnail if fmt and fmt.kind == kind else DEFAULT_THUMBNAILS.get(kind)


def content_type(name: str | None) -> str | None:
    fmt = get(name)
    return fmt.content_type if fmt else None


def sandbox_modules() -> list[str]:
    """What a sandbox worker imports before its first task, once each, in sniff order."""
    return list(dict.fromkeys(module for fmt in formats() for module in fmt.sandbox))


def starts(*prefixes: bytes) -> Magic:
    """A magic test for fixed leading bytes."""
    return lambda head: head.startswith(prefixes)
