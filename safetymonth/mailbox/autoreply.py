"""RFC 3834: never answer a machine. Each rule returns the reason it refuses a reply."""

from __future__ import annotations

import re

from safetymonth.mailbox.parse import ParsedMail

MACHINE_LOCAL_PARTS = re.compile(
    r"^(mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?|"
    r"mail-daemon|daemon)([+\-].*)?$", re.IGNORECASE)
BULK_PRECEDENCE = {"bulk", "list", "junk"}
# Vendor markers of auto-replies (Exchange, many Chinese webmail vacation replies).
VENDOR_AUTOREPLY = ("x-autoreply", "x-autorespond")


def no_reply_reason(mail: ParsedMail, own_address: str) -> str | None:
    """Why this message must get no automatic reply, or None when a reply is fine."""
    auto = (mail.get("Auto-Submitted") or "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    return_path = mail.get("Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return "empty Return-Path"
    if not mail.sender:
        return "no usable From address"
    if MACHINE_LOCAL_PARTS.match(mail.sender.split("@")[0]):
        return f"machine sender {mail.sender}"
    if mail.sender == own_address.lower():
        return "sent by our own address"
    precedence = (mail.get("Precedence") or "").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name, _ in mail.headers:
        lowered = name.lower()
        if lowered.startswith("list-"):
            return f"mailing list ({name})"
        if lowered in VENDOR_AUTOREPLY:
            return f"auto-reply ({name})"
    return None
