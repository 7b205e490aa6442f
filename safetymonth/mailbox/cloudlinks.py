"""Cloud attachments ("超大附件" of 163/126/yeah.net, QQ Mail's 中转站): links in the body, not
files we can fetch; the clerk is told about them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from safetymonth.filenames import plain_name
from safetymonth.mailbox.attachments import MAX_NAME_CHARS


@dataclass
class CloudLink:
    """A "超大附件" (163/126/QQ cloud attachment): a link, not a file we can fetch."""

    name: str
    url: str


# Download pages of cloud attachments: 163/126/yeah.net "超大附件" and QQ Mail 中转站 (ftn).
CLOUD_URL = re.compile(
    r"https?://[^\s\"'<>]*(?:large-?attachment|fs\.163\.com|dashi\.163\.com|"
    r"ftn(?:Exs)?_?download|wx\.mail\.qq\.com/ftn|mail\.qq\.com/cgi-bin/ftnExs|"
    r"ftn\.qq\.com|qiye\.163\.com/[^\s\"'<>]*attach)[^\s\"'<>]*", re.IGNORECASE)
ANCHOR = re.compile(r"<a\b[^>]*href=[\"']([^\"']+)[\"'][^>]*>(.*?)</a>",
                    re.IGNORECASE | re.DOTALL)


def find_cloud_links(text: str, html: str) -> list[CloudLink]:
    """Cloud-attachment links in the body, with the file name when the HTML shows it."""
    found: dict[str, str] = {}
    for url, label in ANCHOR.findall(html):
        url = unescape(url)
        if CLOUD_URL.match(url):
            found.setdefault(url, _plain(label))
    for url in CLOUD_URL.findall(text + "\n" + html):
        found.setdefault(unescape(url), "")
    if not found and "超大附件" in text + html:
        found["(超大附件)"] = ""
    return [CloudLink(plain_name(name), url) for url, name in found.items()]


def _plain(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html))).strip()[:MAX_NAME_CHARS]
