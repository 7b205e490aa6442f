"""Where a title breaks (GB/T 9704 7.3.1: 词意完整，排列对称): whole words, balanced lines.

An author's line breaks (``\\n`` in the title) are kept as they are. Otherwise a title too
long for one line is cut into as few lines as fit, at the best-placed word boundaries:

- never inside a 《…》 title (unless it alone is longer than a line), a “…” quoted name, a
  number with its unit (2024年) or a word of WORDS;
- preferably after 关于 or around a quoted name or book title, then between known words;
- lines as equal in length as those break points allow.

Chinese has no spaces, so the words come from WORDS, a hand-written list of the words of
civil-affairs and safety titles (from the example notices and the standard's document
types), matched longest first. A character outside every word is a word of its own; a
break beside one costs more, so it is the last resort.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_WORD_TEXT = """
关于 印发 转发 开展 组织 做好 加强 进一步 切实 深入 全面 认真 贯彻 落实 推进 实施 部署
民政 民政局 民政厅 民政部 民政系统 民政服务 民政服务机构 服务机构 社会福利 社会福利中心 福利院
儿童福利院 敬老院 养老院 养老机构 养老服务 救助管理站 救助 殡仪馆 殡葬 婚姻登记 社会组织
安全 安全生产 安全管理 安全生产月 安全管理月 安全活动月 消防 消防安全 应急 应急管理 隐患
排查 整治 专项 专项整治 检查 督查 大检查 责任 责任书 责任制 目标 考核 培训 演练 宣传
活动 活动方案 方案 工作 工作方案 实施方案 情况 开展情况 总结 报告 通知 通报 意见 决定 请示
批复 函 纪要 办法 规定 细则 计划 要点 安排 全县 全市 全省 全区 全国 全系统 年度 年 月
人民政府 政府 办公室 办公厅 委员会 领导小组 街道 乡镇
威海市 德化县 泉州市 福建省 山东省
"""
WORDS = frozenset(re.findall(r"\S+", _WORD_TEXT))
_LONGEST = max(map(len, WORDS))
# Spans that stay on one line: a quoted name, a bracketed remark, a number with its unit.
_SPAN = re.compile(r"“[^”]*”|‘[^’]*’|（[^）]*）|\([^)]*\)"
                   r"|[0-9A-Za-z.\-]+(?:年度|年|月|日|号|届|次)?")
_BOOK = re.compile(r"《[^》]*》")
_CLOSING = "、，。；：！？》”’）)"
_DOCUMENT_TYPES = ("通知", "通报", "报告", "意见", "决定", "请示", "批复", "函", "纪要", "方案")


@dataclass(frozen=True)
class _Token:
    text: str
    known: bool  # a word of WORDS or a protected span: breaking beside it is fine


def tokens(text: str) -> list[_Token]:
    """The title cut into words and protected spans; 《…》 is one token here."""
    found: list[_Token] = []
    position = 0
    protected = re.compile(f"{_BOOK.pattern}|{_SPAN.pattern}")
    while position < len(text):
        span = protected.match(text, position)
        if span:
            found.append(_Token(span.group(), True))
            position = span.end()
            continue
        for length in range(min(_LONGEST, len(text) - position), 0, -1):
            piece = text[position:position + length]
            if piece in WORDS or length == 1:
                found.append(_Token(piece, piece in WORDS))
                position += length
                break
    return found


def _penalty(before: _Token, after: _Token, at_end: Sequence[_Token]) -> float | None:
    """How bad a break between two tokens is; None where it is not allowed."""
    if after.text[0] in _CLOSING or before.text[-1] in "《“‘（(":
        return None
    if before.text == "关于":
        return 0
    if after.text[0] in "《“" or before.text[-1] in "》”" or after.text == "关于":
        return 1
    if after.text == "的" and "".join(t.text for t in at_end[1:]) in _DOCUMENT_TYPES:
        return 1
    return 2 if before.known and after.known else 6


def split_title(text: str, capacity: float, width: Callable[[str], float]) -> list[str]:
    """The title's lines: the author's, or the fewest balanced ones that fit ``capacity``
    (in the unit ``width`` measures in)."""
    if "\n" in text:
        return [line.strip() for line in text.split("\n") if line.strip()]
    if width(text) <= capacity:
        return [text]
    pieces = _open_long_books(tokens(text), capacity, width)
    for lines in range(2, len(pieces) + 1):
        best = _best_cut(pieces, lines, capacity, width)
        if best:
            return best
    return [text]  # nowhere to break: the renderer wraps it


def _open_long_books(found: list[_Token], capacity: float,
                     width: Callable[[str], float]) -> list[tuple[_Token, float]]:
    """Tokens with an extra cost of breaking after each; a 《…》 longer than a line is
    opened into its own words, each break inside it costing 3 more."""
    result: list[tuple[_Token, float]] = []
    for token in found:
        if token.text.startswith("《") and width(token.text) > capacity:
            inner = tokens(token.text[1:-1])
            inner[0] = _Token("《" + inner[0].text, inner[0].known)
            inner[-1] = _Token(inner[-1].text + "》", inner[-1].known)
            result += [(piece, 3.0) for piece in inner[:-1]] + [(inner[-1], 0.0)]
        else:
            result.append((token, 0.0))
    return result


def _best_cut(pieces: list[tuple[_Token, float]], lines: int, capacity: float,
              width: Callable[[str], float]) -> list[str] | None:
    costs: dict[int, float] = {}
    toks = [token for token, _ in pieces]
    for index in range(1, len(toks)):
        penalty = _penalty(toks[index - 1], toks[index], toks[index:])
        if penalty is not None:
            costs[index] = penalty + pieces[index - 1][1]
    best: tuple[float, list[str]] | None = None
    for cut in itertools.combinations(sorted(costs), lines - 1):
        bounds = (0, *cut, len(toks))
        texts = ["".join(t.text for t in toks[a:b]) for a, b in itertools.pairwise(bounds)]
        widths = [width(line) for line in texts]
        if max(widths) > capacity:
            continue
        em = width("国")
        score = 10 * sum(costs[index] for index in cut) + (max(widths) - min(widths)) / em
        if best is None or score < best[0]:
            best = (score, texts)
    return best[1] if best else None
