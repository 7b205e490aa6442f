"""RFC 3834: never answer a machine. Each rule returns the reason it refuses a reply."""

from __future__ import annotations

import re

from safetymonth.mailbox.parse import ParsedMail

MACHINE_LOCAL_PARTS = re.compile(
    r"^(mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?|"
    r"mail-daemon|daemon)([+\-].*)?$", re.IGNORECASE)
BULK_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
# X-Auto-Response-Suppress (Microsoft): a sender that asks for no auto-reply of these kinds.
SUPPRESSED = {"all", "autoreply", "oof"}
# Vendor markers of auto-replies (Exchange, many Chinese webmail vacation replies).
VENDOR_AUTOREPLY = ("x-autoreply", "x-autorespond")
# Machine reports, by report-type (RFC 6522) and by the subtype of their status part.
REPORTS = {"delivery-status": "delivery status notification",
           "global-delivery-status": "delivery status notification",
           "disposition-notification": "read receipt",
           "global-disposition-notification": "read receipt",
           "feedback-report": "feedback report"}


def no_reply_reason(mail: ParsedMail, own_address: str) -> str | None:
    """Why this message must get no automatic reply, or None when a reply is fine."""
    auto = next((value for value in _lowered(mail, "Auto-Submitted")
                 if value.split(";")[0].strip() != "no"), None)
    if auto is not None:  # any one other than "no" wins, whichever comes first
        return f"Auto-Submitted: {auto}"
    if any(not value.strip("<> \t") for value in mail.get_all("Return-Path")):
        return "empty Return-Path"  # "<>", "< >", "" (RFC 5321: the null reverse-path)
    report = machine_report(mail)
    if report:
        return f"machine report: {report}"
    if mail.sender_problem:
        return f"no usable From address ({mail.sender_problem})"
    if not mail.sender:
        return "no usable From address"
    if MACHINE_LOCAL_PARTS.match(mail.sender.split("@")[0]):
        return f"machine sender {mail.sender}"
    if mail.sender == own_address.lower():
        return "sent by our own address"
    precedence = next((value for value in _lowered(mail, "Precedence")
                       if value in BULK_PRECEDENCE), None)
    if precedence is not None:
        return f"Precedence: {precedence}"
    for value in _lowered(mail, "X-Auto-Response-Suppress"):
        if SUPPRESSED & set(re.split(r"[,;\s]+", value)):
            return f"X-Auto-Response-Suppress: {value}"
    for name, _ in mail.headers:
        lowered = name.lower()
        if lowered.startswith("list-"):
            return f"mailing list ({name})"
        if lowered in VENDOR_AUTOREPLY:
            return f"auto-reply ({name})"
    return None


def machine_report(mail: ParsedMail) -> str | None:
    """What kind of machine report (DSN, MDN, feedback report) the message is, if any: by
    its multipart/report's report-type or by a status part, whatever its other headers say
    (a bounce need not come with an empty Return-Path)."""
    kinds = [mail.report_type] + [part.content_type.split("/", 1)[1] for part in mail.reports]
    return next((REPORTS[kind] for kind in kinds if kind in REPORTS), None)


def _lowered(mail: ParsedMail, name: str) -> list[str]:
    """Every value of header ``name``, trimmed and lowercased: a rule reads them all, since a
    message can carry a header twice (``Auto-Submitted: no`` above ``auto-replied``)."""
    return [value.strip().lower() for value in mail.get_all(name)]
