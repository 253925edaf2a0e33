"""How decisions look on a terminal and as JSON: shared by classify, demo, explain and status."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any

from triage.decide.policy import Decision
from triage.message.parse import Message


def decision_record(path: str, msg: Message, decision: Decision) -> dict[str, Any]:
    """The JSON object `triage classify --json` prints for one message (a stable contract)."""
    return {
        "path": path,
        "message_id": msg.message_id,
        "from": msg.sender.addr if msg.sender else "",
        "subject": msg.subject,
        "label": decision.label,
        "confidence": decision.confidence,
        "scores": dict(decision.scores),
        "offenses": list(decision.offenses),
        "draft": decision.draft,
        "reasons": list(decision.reasons),
        "model_version": decision.model_version,
    }


def sender_label(msg: Message) -> str:
    if not msg.sender:
        return "(no sender)"
    return msg.sender.name or msg.sender.addr


def _fit(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], flexible: Sequence[int]) -> str:
    """A plain table that fits the terminal; columns listed in `flexible` shrink to make room."""
    total = shutil.get_terminal_size((120, 24)).columns
    widths = [
        max([len(h)] + [len(" ".join(str(r[i]).split())) for r in rows])
        for i, h in enumerate(headers)
    ]
    gap = 2 * (len(headers) - 1)
    while sum(widths) + gap > total and any(widths[i] > 12 for i in flexible):
        widest = max(flexible, key=lambda i: widths[i])
        widths[widest] -= 1
    lines = ["  ".join(_fit(h, w).ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(_fit(str(c), w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)


def decision_row(msg: Message, decision: Decision, draft_cell: str | None = None) -> list[str]:
    """sender, subject, class, confidence, main reasons, draft."""
    reasons = "; ".join(decision.reasons[:2]) or "-"
    draft = draft_cell if draft_cell is not None else ("yes" if decision.draft else "-")
    return [
        sender_label(msg),
        msg.subject or "(no subject)",
        decision.label,
        f"{decision.confidence:.2f}",
        reasons,
        draft,
    ]


DECISION_HEADERS = ("sender", "subject", "class", "conf", "main reasons", "draft")
DECISION_FLEXIBLE = (0, 1, 4)
