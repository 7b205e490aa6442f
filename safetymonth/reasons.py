"""Why a message got no reply or counts for no unit, as a clerk reads it.

Intake stores these reasons as short English codes (``Auto-Submitted: auto-replied``,
``authentication failed: dkim=fail``...), which ``report --json`` and scripts keep reading
unchanged; every page and table a clerk reads shows them through :func:`reason_label`.
"""

from __future__ import annotations

import re

REPORT_KINDS = {"delivery status notification": "退信（投递状态通知）",
                "read receipt": "已读回执", "feedback report": "投诉反馈报告"}

# (pattern of a stored reason, its Chinese wording); {0}, {1} are the pattern's groups.
WORDINGS = [
    (r"^Auto-Submitted: (.+)$", "自动发出的邮件（Auto-Submitted: {0}）"),
    (r"^empty Return-Path$", "退信或系统邮件（Return-Path 为空）"),
    (r"^machine report: (.+)$", "系统报告：{0}"),
    (r"^no usable From address \((.+)\)$", "没有可用的发件人地址（{0}）"),
    (r"^no usable From address$", "没有可用的发件人地址"),
    (r"^machine sender (.+)$", "系统邮箱发出的邮件（{0}）"),
    (r"^sent by our own address$", "本活动邮箱自己发出的邮件"),
    (r"^Precedence: (.+)$", "群发邮件（Precedence: {0}）"),
    (r"^mailing list \((.+)\)$", "邮件列表的邮件（{0}）"),
    (r"^auto-reply \((.+)\)$", "自动回复（{0}）"),
    (r"^authentication failed: (.+)$", "发件认证未通过（{0}）"),
    (r"^held for digest until (.+)$", "超过回复频率，{0} 在汇总回复中一并答复"),
    (r"^held for digest$", "超过回复频率，在汇总回复中一并答复"),
    (r"^rate limit: (\d+) replies within ([\d.]+) h, not a registered unit$",
     "超过回复频率（{1} 小时内已回复 {0} 封），且不是登记的单位"),
]
LABELS = [(re.compile(pattern), wording) for pattern, wording in WORDINGS]


def reason_label(reason: str | None) -> str:
    """``reason`` in Chinese; one not known here is shown as stored."""
    if not reason:
        return ""
    for pattern, wording in LABELS:
        found = pattern.match(reason)
        if found:
            groups = [REPORT_KINDS.get(group, group) for group in found.groups()]
            return wording.format(*groups)
    return reason
