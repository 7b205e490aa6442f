"""GB/T 9704-2012 in numbers: the page, the text block, the line grid, the sizes, and the
offsets calibrated in LibreOffice against the PDF."""

from docx.shared import RGBColor

PAGE_W, PAGE_H = 210, 297  # A4, mm
TOP, BOTTOM, LEFT, RIGHT = 37, 35, 28, 26  # margins: a 156 × 225 mm text block
BLOCK_W, BLOCK_H = PAGE_W - LEFT - RIGHT, PAGE_H - TOP - BOTTOM
LINE_PITCH = 579  # twips: 22 lines in 225 mm
BODY_PT = 16  # 3号
TITLE_PT = 22  # 2号
SMALL_PT = 14  # 4号: page numbers, 版记, tables
CHAR_SPACING = -0.25  # pt: 28 characters of 16 pt fit 156 mm in LibreOffice and Word
CHAR = BODY_PT + CHAR_SPACING  # advance of one body character, pt
RED = RGBColor(0xFF, 0x00, 0x00)
# GB/T 9704 places the printed characters: the first line's glyphs start 37 mm from the top.
# LibreOffice centres a 16 pt line in its grid line, so the page margin sits half the leading
# higher (and the bottom margin as much lower), keeping the 225 mm, 22-line block. (With any
# other height LibreOffice centres the 22 grid lines in the area and the text moves.)
HALF_LEADING_MM = (LINE_PITCH / 20 - BODY_PT) / 2 * 25.4 / 72

# Calibrated in LibreOffice against the PDF (tests/test_docgen_conformance.py measures it):
# the mark's glyph top lands 35 mm below the text block with this space before its line.
MARK_PT = 42  # 初号; shrunk when a long mark would not fit the text block
MARK_SPACE_BEFORE_MM = 35.6
MARK_LINE = 2 * LINE_PITCH
# Paragraph-border gap: the red rule 4 mm under the 发文字号's em box (the line's own half
# leading, 2.3 mm, comes on top of this gap).
RULE_SPACE_PT = 3
FOOTER_MM = 21.5  # page-number line: its top about 7 mm under the text block
# A title opening a page is dropped this far so its glyphs start at the block's top (37 mm);
# the blank line under it is shortened as much, so the body below stays on the grid.
PAGE_TITLE_DROP = 96  # twips
# Digits and Latin letters: 0.5 em in 仿宋_GB2312, 0.56 em in Noto Serif CJK (measured in the
# LibreOffice PDF). The mean keeps a signature within about 0.6 mm of centre over a date
# with eight digits in either.
NARROW_EM = 0.53
# Data tables (4号): cell margins, and room for the estimate of a cell's width to err.
CELL_MARGIN_MM, CELL_SLACK_MM = 1.0, 1.5
# 版记 (4号, off the grid): exact 20 pt lines, 3 pt before and after each, rules of 1 pt
# (outer) and 0.75 pt (between).
IMPRINT_LINE_PT, IMPRINT_PAD_PT, IMPRINT_OUTER_PT, IMPRINT_INNER_PT = 20, 3, 1, 0.75
