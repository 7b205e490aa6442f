"""File in, Verdict out. Pure: no database, no mail.

``check_file(path, policy, name=None)`` is the one entry point the rest of the product uses.
It returns one :class:`Verdict` for an ordinary file, and for a ``.zip`` one verdict per member
(reported as ``ARCHIVE!MEMBER``), plus one for the archive itself when the archive as a whole is
unusable. ``name`` is the name to report and to judge the extension by, e.g. the original
attachment filename when the file itself is stored under a content hash. ``prestart(limits)``
starts sandboxed probe workers ahead of the first check (intake, before it fetches), and
``check_files(paths, policy, names=None)`` checks several files on every core (one worker per
core; one file, one worker).
"""

from safetymonth.validator.check import check_file
from safetymonth.validator.parallel import check_files
from safetymonth.validator.sandbox import prestart
from safetymonth.validator.verdict import Code, Finding, Kind, Verdict

__all__ = ["Code", "Finding", "Kind", "Verdict", "check_file", "check_files", "prestart"]
