"""Body markup: the light plain-text format templates and data files write bodies in.

- ``#`` to ``####`` start headings of levels 1–4, numbered here 一、 （一） 1. （1）, so a
  section a template leaves out never leaves a gap in the numbering. A number typed by hand
  (``3、``, ``（二）``) is dropped and replaced.
- A level 2–4 heading whose text has ``。`` followed by more text runs into its paragraph:
  the heading part keeps the heading font, the rest is body text.
- A blank line separates paragraphs; lines without one between them join (Chinese needs no
  space between them). So a level 2–4 heading ending in ``。`` runs into the text on the
  lines under it, just as if that text had been typed after it on the same line.
- ``| a | b |`` lines form a table. With a ``| --- | --- |`` row under the first, the table is
  ruled and the first row is its header; without one it is an unruled layout table (the
  signature block of a letter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from safetymonth.docgen.models import DataError

DIGITS = "零一二三四五六七八九"
HAND_NUMBER = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[)）]|\d+[、.．](?!\d)|"
    r"[（(]\d+[)）])\s*")
SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")


@dataclass(frozen=True)
class Heading:
    level: int
    number: str
    text: str
    rest: str = ""  # body text run into the heading's paragraph

    @property
    def runs_in(self) -> bool:
        return bool(self.rest)


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    rows: tuple[tuple[str, ...], ...]
    header: bool  # ruled, first row is the header


Block = Heading | Paragraph | Table


def chinese_number(value: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 99 → 九十九."""
    if not 0 < value < 100:
        raise DataError(f"body: heading number {value} at one level; a document numbers at "
                        "most 99 headings of a level (一、 to 九十九、): split the section")
    tens, ones = divmod(value, 10)
    text = ("" if tens == 1 else DIGITS[tens]) + "十" if tens else ""
    return text + (DIGITS[ones] if ones else "")


def heading_number(level: int, value: int) -> str:
    """The printed number of the ``value``-th heading at ``level`` (1–4)."""
    return (f"{chinese_number(value)}、", f"（{chinese_number(value)}）", f"{value}.",
            f"（{value}）")[level - 1]


class Numbering:
    """Counters for the four levels; a heading resets the levels below it."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0]

    def next(self, level: int) -> str:
        self.counts[level - 1] += 1
        self.counts[level:] = [0] * (4 - level)
        return heading_number(level, self.counts[level - 1])


def split_run_in(text: str) -> tuple[str, str]:
    """``加强领导。各级……`` → (``加强领导。``, ``各级……``); else (text, "")."""
    head, mark, rest = text.partition("。")
    if mark and rest.strip():
        return head + mark, rest.strip()
    return text, ""


def parse(text: str) -> list[Block]:
    """The blocks of a body, headings numbered."""
    blocks: list[Block] = []
    numbering = Numbering()
    pending: list[str] = []
    table: list[str] = []
    lead: list[Heading] = []  # a heading that the lines under it run into

    def flush() -> None:
        if lead:
            heading = lead.pop()
            rest = "".join([heading.rest, *pending]).strip()
            blocks.append(replace(heading, rest=rest))
            pending.clear()
        if pending:
            blocks.append(Paragraph("".join(pending)))
            pending.clear()
        if table:
            blocks.append(_table(table))
            table.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("|"):
            if pending:
                flush()
            table.append(line)
        elif line.startswith("#"):
            flush()
            heading = _heading(line, numbering)
            if heading.level > 1 and heading.text.endswith("。"):
                lead.append(heading)
            else:
                blocks.append(heading)
        else:
            if table:
                flush()
            pending.append(line)
    flush()
    return blocks


def _heading(line: str, numbering: Numbering) -> Heading:
    hashes = len(line) - len(line.lstrip("#"))
    level = min(hashes, 4)
    text = HAND_NUMBER.sub("", line[hashes:].strip())
    rest = ""
    if level > 1:
        text, rest = split_run_in(text)
    return Heading(level=level, number=numbering.next(level), text=text, rest=rest)


def _table(lines: list[str]) -> Table:
    rows = [tuple(cell.strip() for cell in line.strip().strip("|").split("|")) for line in lines]
    header = len(rows) > 1 and any(rows[1]) and all(
        SEPARATOR_CELL.match(cell) for cell in rows[1] if cell)
    if header:
        rows.pop(1)
    width = max(len(row) for row in rows)
    padded = tuple(row + ("",) * (width - len(row)) for row in rows)
    return Table(rows=padded, header=header)
