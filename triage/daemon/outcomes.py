"""What the daemon reports: one `Outcome` per message, one `FolderReport` per catch-up."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from triage.decide.policy import Decision
from triage.message.parse import Message


@dataclass(frozen=True)
class Outcome:
    """What happened to one message (or would have, in a dry run)."""

    account: str
    folder: str
    uid: int
    status: str  # "labelled", "dry-run", "duplicate", "error"
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    decision: Decision | None = None
    message: Message | None = None  # when it was parsed in this process
    labels: tuple[str, ...] = ()  # label names applied (or that would be)
    draft_message_id: str = ""  # the draft written for it
    note: str = ""  # why no draft, what it duplicates
    error: str = ""


@dataclass
class FolderReport:
    account: str
    folder: str
    uidvalidity: int = 0
    candidates: int = 0
    processed: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    errors: int = 0
    drafts: int = 0
    uidvalidity_changed: bool = False
    complete: bool = False
    seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{n} {label}" for label, n in sorted(self.by_label.items())]
        if self.drafts:
            parts.append(f"{self.drafts} draft{'s' if self.drafts != 1 else ''}")
        if self.duplicates:
            parts.append(f"{self.duplicates} already handled")
        if self.errors:
            parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        return ", ".join(parts) or "nothing new"
