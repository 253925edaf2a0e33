"""The rows of the state database as values: what `State` returns and is given."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class FolderCheckpoint:
    account: str
    folder: str
    uidvalidity: int
    last_uid: int
    highestmodseq: int | None
    backfill_since: date | None
    backfill_end_uid: int
    created_at: datetime


@dataclass(frozen=True)
class LedgerRow:
    uid: int
    uidvalidity: int
    message_key: str
    message_id: str
    sender: str
    label: str | None
    confidence: float | None
    offenses: tuple[str, ...]
    model_version: str
    labels: tuple[str, ...]
    labels_applied: bool
    draft_message_id: str
    draft_written: bool
    note: str
    status: str
    error: str

    @property
    def settled(self) -> bool:
        return self.status != "pending"


@dataclass(frozen=True)
class Intent:
    """What the daemon is about to do to one message, recorded before doing it."""

    uid: int
    message_key: str
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    label: str | None = None
    confidence: float | None = None
    offenses: tuple[str, ...] = ()
    model_version: str = ""
    labels: tuple[str, ...] = ()
    want_draft: bool = False
    draft_message_id: str = ""  # the deterministic id the draft would get
    note: str = ""
    status: str = "pending"  # "pending", or "done"/"error"/"duplicate" when nothing to do
    error: str = ""


@dataclass(frozen=True)
class DraftPlan:
    """The answer to "may this message get a draft?"."""

    planned: bool
    note: str = ""
    capped: bool = False  # refused only for the daily cap: a place freed later may take it


@dataclass(frozen=True)
class DraftRecord:
    account: str
    folder: str
    drafts_folder: str
    original_message_id: str
    draft_message_id: str
    sender: str
    subject: str
    status: str
    created_at: datetime
    written_at: datetime | None


@dataclass(frozen=True)
class Activity:
    account: str
    folder: str
    pid: int | None
    host: str
    connected: bool
    started_at: datetime | None
    heartbeat_at: datetime | None
    last_activity_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    stopped: bool


def ledger_row(r: sqlite3.Row) -> LedgerRow:
    return LedgerRow(
        uid=r["uid"],
        uidvalidity=r["uidvalidity"],
        message_key=r["message_key"],
        message_id=r["message_id"],
        sender=r["sender"],
        label=r["label"],
        confidence=r["confidence"],
        offenses=tuple(o for o in r["offenses"].split(";") if o),
        model_version=r["model_version"],
        labels=tuple(json.loads(r["labels"] or "[]")),
        labels_applied=bool(r["labels_applied"]),
        draft_message_id=r["draft_message_id"],
        draft_written=bool(r["draft_written"]),
        note=r["note"],
        status=r["status"],
        error=r["error"],
    )
