"""No extra space between Chinese and digits or Latin letters in LibreOffice's PDF.

Writer puts a fifth of the font size (3.2 pt at 3号) between Chinese and a digit or a Latin
letter ("2016 年 5 月 30 日") unless a paragraph's "apply spacing between Asian and non-Asian
text" is off, and its .docx import ignores the ``w:autoSpaceDE``/``w:autoSpaceDN`` that say so
(Word and WPS read them from our docDefaults). Flat ODF can say it: ``style:text-autospace``.
Where pdf.py has no uno-capable interpreter, it converts a .docx to flat ODF, :func:`switch_off`
rewrites that attribute, and the PDF is made from the result; the flat ODF is LibreOffice's own
model written out, so nothing else of the layout changes. With uno (the usual way),
unoconvert.py switches off the same places in the loaded model instead (UNO property
``ParaIsCharacterDistance``), in the same LibreOffice that exports the PDF.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
AUTOSPACE = f"{{{STYLE}}}text-autospace"
PARAGRAPH_PROPERTIES = f"{{{STYLE}}}paragraph-properties"
# Flat ODF of a long batch is a few megabytes; lxml refuses huge text nodes by default.
_PARSER = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)


def switch_off(flat_odf: Path) -> None:
    """Rewrite a flat ODF text document so that no paragraph spaces Chinese from digits."""
    tree = etree.parse(str(flat_odf), _PARSER)
    for properties in tree.iter(PARAGRAPH_PROPERTIES):
        if properties.get(AUTOSPACE) is not None:
            properties.set(AUTOSPACE, "none")
    # Where no style says it, Writer's default (on) applies: say it on the default style.
    for default in tree.xpath("//style:default-style[@style:family='paragraph']",
                              namespaces={"style": STYLE}):
        properties = default.find(PARAGRAPH_PROPERTIES)
        if properties is None:
            properties = etree.SubElement(default, PARAGRAPH_PROPERTIES)
        properties.set(AUTOSPACE, "none")
    tree.write(str(flat_odf), xml_declaration=True, encoding="UTF-8")
