"""The five faces of a GB/T 9704 document: the names the .docx carries, and how Word finds them.

Word and WPS resolve a font by the ``w:font`` entry of ``fontTable.xml``: on a stock Windows,
which has 仿宋 and 楷体 but not the ``_GB2312`` names, the entry's ``altName``, charset 86
(GB2312), family, pitch and panose let them substitute the right face instead of guessing.
A bureau whose machines have only 仿宋/楷体 can rename the faces (``docgen.fonts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from safetymonth.docgen.models import DocgenError

FANGSONG, XIAOBIAOSONG, HEITI, KAITI, SONGTI = (
    "仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312", "宋体")
STANDARD = (FANGSONG, KAITI, XIAOBIAOSONG, HEITI, SONGTI)


@dataclass(frozen=True)
class FontEntry:
    """What fontTable.xml says of one face (values as in Word's own files on Windows)."""

    alt_name: str
    family: str  # w:family: roman, swiss, modern, script, decorative or auto
    pitch: str  # fixed or variable
    panose: str | None  # 10 bytes in hex, None where the face's is not known
    charset: str = "86"  # GB2312


ENTRIES: dict[str, FontEntry] = {
    FANGSONG: FontEntry("仿宋", "modern", "fixed", "02010609030101010101"),
    KAITI: FontEntry("楷体", "modern", "fixed", "02010609030101010101"),
    XIAOBIAOSONG: FontEntry("宋体", "script", "variable", None),
    HEITI: FontEntry("SimHei", "modern", "fixed", "02010609060101010101"),
    SONGTI: FontEntry("SimSun", "auto", "variable", "02010600030101010101"),
}
# A renamed face is described like the standard face it stands for, except its altName,
# which names the other spelling (仿宋 for 仿宋_GB2312 and back).
_ALT_OF_RENAMED = {"仿宋": FANGSONG, "楷体": KAITI}


class FontError(DocgenError):
    """A ``docgen.fonts`` key that is not one of the standard faces."""


@dataclass(frozen=True)
class Faces:
    """The face named in the .docx for each standard face (itself unless overridden)."""

    names: Mapping[str, str]

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, str] | None = None) -> Faces:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(STANDARD))
        if unknown:
            raise FontError(f"docgen.fonts: {', '.join(unknown)}: not a standard face; "
                            f"rename one of {', '.join(STANDARD)}")
        return cls({face: overrides.get(face) or face for face in STANDARD})

    def __getitem__(self, standard: str) -> str:
        return self.names[standard]

    def entries(self) -> dict[str, FontEntry]:
        """The font-table entry of each face in use, keyed by the name the .docx carries."""
        table = {}
        for standard, name in self.names.items():
            entry = ENTRIES[standard]
            if name != standard:
                entry = FontEntry(_ALT_OF_RENAMED.get(name, standard), entry.family, entry.pitch,
                                  entry.panose)
            table.setdefault(name, entry)
        return table


DEFAULT_FACES = Faces.from_overrides()
