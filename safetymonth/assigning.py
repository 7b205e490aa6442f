"""Which deliverable a file counts for: the rule of DESIGN.md, written once, on plain values.

Of the deliverables the file's kind may count for, the first (in the config's order) with a
``match`` word in the file's name; else the first with one in the mail's subject; else the
one without ``match`` words (the catch-all of that kind); else none: the file is
"unassigned" and shown to coordinators, who may move it (``safetymonth assign``). The store
evaluates it for every file it records (:mod:`safetymonth.storage.assignment`), and again
for every file when the deliverables in the config change.
"""

from __future__ import annotations

from collections.abc import Sequence

from safetymonth.deliverables import Deliverable


def assign(kind: str, name: str, subject: str | None,
           deliverables: Sequence[Deliverable]) -> str | None:
    """The id of the deliverable a file of ``kind`` named ``name``, sent in a mail titled
    ``subject``, counts for; None when it counts for none. Case is ignored (``PPT``,
    ``ppt``)."""
    candidates = [item for item in deliverables if kind in item.kinds]
    for text in (name, subject or ""):
        folded = text.casefold()
        for item in candidates:
            if any(word.casefold() in folded for word in item.match):
                return item.id
    return next((item.id for item in candidates if not item.match), None)
