"""Archives: a ZIP is opened and each member checked as a file of its own (``check`` and
``validator.archive`` do that, as one file becomes many verdicts); RAR and 7z are recognised
only to tell the sender to use ZIP. A ZIP may turn out to be a DOCX, XLSX or PPTX
(``document.ooxml_format``), so its first bytes never settle its name."""

from __future__ import annotations

from safetymonth.validator.formats import registry
from safetymonth.validator.verdict import Kind

OPENED = "ZIP"  # the one archive format whose members are checked

registry.register(registry.Format("ZIP", Kind.ARCHIVE, extensions=(".zip",), settles=False,
                                  magic=registry.starts(b"PK\x03\x04", b"PK\x05\x06")))
registry.register(registry.Format("RAR", Kind.ARCHIVE, extensions=(".rar",),
                                  magic=registry.starts(b"Rar!\x1a\x07")))
registry.register(registry.Format("7Z", Kind.ARCHIVE, extensions=(".7z",),
                                  magic=registry.starts(b"7z\xbc\xaf\x27\x1c")))
