"""File in, Verdict out. Pure: no database, no mail.

``check_file(path, policy, name=None)`` is the one entry point the rest of the product uses.
It returns one :class:`Verdict` for an ordinary file, and for a ``.zip`` one verdict per member
(reported as ``ARCHIVE!MEMBER``), plus one for the archive itself when the archive as a whole is
unusable. ``name`` is the name to report and to judge the extension by, e.g. the original
attachment filename when the file itself is stored under a content hash. ``prestart(limits)``
starts a sandboxed probe worker ahead of the first check (intake, before it fetches).
"""

from safetymonth.validator.check import check_file
from safetymonth.validator.sandbox import prestart
from safetymonth.validator.verdict import Code, Finding, Kind, Verdict

__all__ = ["Code", "Finding", "Kind", "Verdict", "check_file", "prestart"]
