"""Authentication-Results (RFC 8601): did the receiving server see a forged sender?

Anyone can write an Authentication-Results header into a message, so only headers stamped by
a trusted authserv-id count; with no trusted ids configured, only the topmost header (the one
our own provider added last) does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHECKED = ("dkim", "spf", "dmarc")
RESULT = re.compile(r"\b(dkim|spf|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class AuthResult:
    """``status`` is pass, fail or none; ``detail`` like ``dkim=fail spf=pass``."""

    status: str
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def authserv_id(header: str) -> str:
    """The authserv-id that stamped a header ("" when it names none)."""
    words = COMMENT.sub("", header).split(";", 1)[0].split()
    return words[0].lower() if words else ""


def evaluate(headers: list[str], trusted: list[str]) -> AuthResult:
    """The verdict of the counted headers (given topmost first)."""
    trusted_ids = {item.lower() for item in trusted}
    counted = [h for h in headers if authserv_id(h) in trusted_ids] if trusted_ids \
        else headers[:1]
    results: dict[str, str] = {}
    for header in counted:
        body = COMMENT.sub("", header).split(";", 1)
        for method, result in RESULT.findall(body[1] if len(body) > 1 else ""):
            method, result = method.lower(), result.lower()
            if results.get(method) != "fail":
                results[method] = result
    if not results:
        return AuthResult("none", "")
    detail = " ".join(f"{m}={results[m]}" for m in CHECKED if m in results)
    failed = any(results.get(method) == "fail" for method in CHECKED)
    return AuthResult("fail" if failed else "pass", detail)
