"""The corrections store: the labels the user changed on triage's decisions, remembered.

What counts as a correction, and how the daemon notices one, is in `triage.daemon.corrections`;
`triage learn` (`triage.training.learning`) trains a personal model from what is kept here.

Storage: the corrections tables of the state database, whose schema and migrations
`triage.store.schema` owns (version 2 moved them there). A correction keeps the message's bytes as
the daemon fetched them (header plus at most `RAW_CAP` bytes of the body), so its training row can
be rebuilt by any later version of the feature code; nothing else in the database holds message
bodies, and only messages the user corrected or reviewed are kept.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from triage.config import LabelSet
from triage.store.records import ledger_row
from triage.store.schema import Database, format_ts, migrate, parse_ts

CLASSES = ("relationship", "solicitation", "other")
RAW_CAP = 256 * 1024  # what the daemon fetches of a body: the same bytes it classified

Kind = Literal["correction", "confirmation", "labels"]


_LONG_AGO = datetime.min.replace(tzinfo=UTC)  # for a row with no timestamp


def triage_labels(names: LabelSet) -> frozenset[str]:
    """The label names that carry a class (the drafted label does not)."""
    return frozenset(n for n in (names.relationship, names.solicitation, names.review) if n)


@dataclass(frozen=True)
class Watched:
    """A message triage decided on, as the corrections check sees it."""

    uid: int
    uidvalidity: int
    message_key: str
    message_id: str
    sender: str
    predicted: str  # triage's decision
    expected: frozenset[str]  # the triage labels that should be on it now
    model_version: str = ""
    shadow: bool = False  # triage applied only the review label


@dataclass(frozen=True)
class Change:
    """The user changed the triage labels of a watched message."""

    watched: Watched
    kind: Kind  # "labels": the labels changed but not the class they say
    old_label: str
    new_label: str
    labels: frozenset[str]  # the triage labels now on the message

    @property
    def teaches(self) -> bool:
        return self.kind != "labels"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Correction:
    id: int
    account: str
    folder: str
    uid: int
    message_key: str
    message_id: str
    sender: str
    predicted: str
    old_label: str
    new_label: str
    kind: str
    shadow: bool
    labels: tuple[str, ...]
    model_version: str
    created_at: datetime
    raw: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ReviewSummary:
    """Shadow-mode reviews of one account: per class, how often triage's label was right."""

    reviewed: dict[str, int]  # predicted class -> messages reviewed
    right: dict[str, int]  # predicted class -> of those, the user agreed
    corrections: int  # every correction, active or shadow
    since_learn: int  # corrections not yet seen by `triage learn`

    def precision(self, label: str) -> float | None:
        n = self.reviewed.get(label, 0)
        return self.right.get(label, 0) / n if n else None


# --------------------------------------------------------------------------- the store


class CorrectionStore(Database):
    """The corrections tables in the state database. One per thread, like `triage.store.state`."""

    CHECK_SAME_THREAD = False  # one per thread, but created on one thread and handed to another

    def _setup(self) -> None:
        if not self.readonly:
            migrate(self._db, self.path, readonly=False)  # tables included: one schema
        self._has_tables = self._table_exists("corrections")
        self._has_ledger = self._table_exists("messages")

    def _table_exists(self, name: str) -> bool:
        return bool(
            self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
        )

    # -- what to watch

    def watched(
        self, account: str, folder: str, uidvalidity: int, *, since: datetime, names: LabelSet
    ) -> list[Watched]:
        """The messages of a folder triage decided on since `since`, with the labels expected
        on them now (the user's, after a change; else the ones triage applied)."""
        if not self._has_ledger:
            return []
        if not self._has_tables:
            return []
        rows = self._query(
            "SELECT m.uid, m.uidvalidity, m.message_key, m.message_id, m.sender, m.label, "
            "m.labels, m.model_version, s.labels AS user_labels FROM messages m "
            "LEFT JOIN label_state s ON s.account = m.account AND s.folder = m.folder "
            "AND s.uidvalidity = m.uidvalidity AND s.uid = m.uid "
            "WHERE m.account = ? AND m.folder = ? AND m.uidvalidity = ? "
            "AND m.status IN ('done', 'duplicate') AND m.label IS NOT NULL "
            "AND m.created_at >= ? ORDER BY m.uid",
            (account, folder, uidvalidity, format_ts(since)),
        )
        relevant = triage_labels(names)
        result = []
        for r in rows:
            applied = frozenset(json.loads(r["labels"] or "[]")) & relevant
            expected = (
                applied
                if r["user_labels"] is None
                else frozenset(json.loads(r["user_labels"])) & relevant
            )
            result.append(
                Watched(
                    uid=r["uid"],
                    uidvalidity=r["uidvalidity"],
                    message_key=r["message_key"],
                    message_id=r["message_id"],
                    sender=r["sender"],
                    predicted=r["label"],
                    expected=expected,
                    model_version=r["model_version"],
                    shadow=bool(names.review) and names.review in applied,
                )
            )
        return result

    def user_labels(self, account: str, folder: str, message_key: str) -> frozenset[str] | None:
        """The triage labels the user left on this message (any UIDVALIDITY), or None when the
        user never changed them: what to re-apply when the message is met again."""
        if not self._has_tables:
            return None
        rows = self._query(
            "SELECT labels FROM label_state WHERE account = ? AND folder = ? AND message_key = ? "
            "ORDER BY updated_at DESC LIMIT 1",
            (account, folder, message_key),
        )
        return frozenset(json.loads(rows[0][0])) if rows else None

    def sync_point(self, account: str, folder: str) -> tuple[int, int | None] | None:
        """(UIDVALIDITY, HIGHESTMODSEQ) the last check of the folder covered."""
        if not self._has_tables:
            return None
        rows = self._query(
            "SELECT uidvalidity, modseq FROM label_sync WHERE account = ? AND folder = ?",
            (account, folder),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def set_sync_point(
        self, account: str, folder: str, uidvalidity: int, modseq: int | None, now: datetime
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO label_sync (account, folder, uidvalidity, modseq, checked_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET "
                "uidvalidity = excluded.uidvalidity, modseq = excluded.modseq, "
                "checked_at = excluded.checked_at",
                (account, folder, uidvalidity, modseq, format_ts(now)),
            )

    # -- recording

    def record(
        self,
        account: str,
        folder: str,
        changes: Sequence[Change],
        raws: Mapping[int, bytes],
        now: datetime,
    ) -> int:
        """Remember what the user changed; returns the corrections and confirmations added."""
        stamp = format_ts(now)
        added = 0
        with self._transaction() as db:
            for change in changes:
                w = change.watched
                labels = json.dumps(sorted(change.labels))
                db.execute(
                    "INSERT INTO label_state (account, folder, uidvalidity, uid, message_key, "
                    "labels, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, "
                    "folder, uidvalidity, uid) DO UPDATE SET labels = excluded.labels, "
                    "updated_at = excluded.updated_at",
                    (account, folder, w.uidvalidity, w.uid, w.message_key, labels, stamp),
                )
                if not change.teaches:
                    continue
                raw = raws.get(w.uid)
                db.execute(
                    "INSERT INTO corrections (account, folder, uidvalidity, uid, message_key, "
                    "message_id, sender, predicted, old_label, new_label, kind, shadow, labels, "
                    "model_version, raw, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        account,
                        folder,
                        w.uidvalidity,
                        w.uid,
                        w.message_key,
                        w.message_id,
                        w.sender,
                        w.predicted,
                        change.old_label,
                        change.new_label,
                        change.kind,
                        int(w.shadow),
                        labels,
                        w.model_version,
                        raw[:RAW_CAP] if raw is not None else None,
                        stamp,
                    ),
                )
                added += 1
        return added

    # -- reading

    def corrections(
        self, account: str | None = None, *, message_id: str = "", with_raw: bool = False
    ) -> list[Correction]:
        if not self._has_tables:
            return []
        where, params = [], []
        if account is not None:
            where.append("account = ?")
            params.append(account)
        if message_id:
            where.append("message_id = ?")
            params.append(message_id)
        columns = (
            "*"
            if with_raw
            else "id, account, folder, uid, message_key, message_id, "
            "sender, predicted, old_label, new_label, kind, shadow, labels, model_version, "
            "created_at, NULL AS raw"
        )
        sql = (
            f"SELECT {columns} FROM corrections"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY id"
        )
        return [_correction(r) for r in self._query(sql, params)]

    def examples(self, account: str, *, through_id: int | None = None) -> list[Correction]:
        """What the user taught, one per message: the latest correction or confirmation of
        each message (up to `through_id`), with its bytes."""
        if not self._has_tables:
            return []
        limit = "" if through_id is None else " AND id <= ?"
        params: list[Any] = [account] + ([] if through_id is None else [through_id])
        rows = self._query(
            "SELECT * FROM corrections WHERE id IN (SELECT MAX(id) FROM corrections "
            f"WHERE account = ?{limit} GROUP BY message_key) AND raw IS NOT NULL ORDER BY id",
            params,
        )
        return [_correction(r) for r in rows]

    def last_id(self, account: str) -> int:
        if not self._has_tables:
            return 0
        return int(
            self._query(
                "SELECT COALESCE(MAX(id), 0) FROM corrections WHERE account = ?", (account,)
            )[0][0]
        )

    def last_run(self, account: str) -> int:
        """The newest correction id the last `triage learn` (or rollback) looked at."""
        if not self._has_tables:
            return 0
        rows = self._query(
            "SELECT last_correction_id FROM learn_runs WHERE account = ?", (account,)
        )
        return int(rows[0][0]) if rows else 0

    def since_learn(self, account: str) -> int:
        """Corrections (not confirmations) recorded after the last learn run."""
        if not self._has_tables:
            return 0
        return int(
            self._query(
                "SELECT COUNT(*) FROM corrections WHERE account = ? AND kind = 'correction' "
                "AND id > ?",
                (account, self.last_run(account)),
            )[0][0]
        )

    def mark_run(self, account: str, last_correction_id: int, outcome: str, now: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO learn_runs (account, last_correction_id, outcome, at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET "
                "last_correction_id = MAX(last_correction_id, excluded.last_correction_id), "
                "outcome = excluded.outcome, at = excluded.at",
                (account, last_correction_id, outcome[:500], format_ts(now)),
            )

    def review_summary(self, account: str) -> ReviewSummary:
        reviewed = {c: 0 for c in CLASSES}
        right = {c: 0 for c in CLASSES}
        corrections = 0
        if self._has_tables:
            for r in self._query(
                "SELECT predicted, new_label FROM corrections WHERE id IN (SELECT MAX(id) "
                "FROM corrections WHERE account = ? AND shadow = 1 GROUP BY message_key)",
                (account,),
            ):
                if r["predicted"] in reviewed:
                    reviewed[r["predicted"]] += 1
                    right[r["predicted"]] += r["predicted"] == r["new_label"]
            corrections = int(
                self._query(
                    "SELECT COUNT(*) FROM corrections WHERE account = ? AND kind = 'correction'",
                    (account,),
                )[0][0]
            )
        return ReviewSummary(reviewed, right, corrections, self.since_learn(account))

    def ledger(self, message_id: str, account: str | None = None) -> list[LedgerEntry]:
        """What the daemon recorded about a message (for `triage explain MESSAGE-ID`), newest
        first, with its draft when one was planned."""
        if not self._has_ledger or not message_id:
            return []
        where, params = "m.message_id = ?", [message_id]
        if account is not None:
            where += " AND m.account = ?"
            params.append(account)
        drafts = self._table_exists("drafts")
        rows = self._query(
            "SELECT m.*, "
            + (
                "d.status AS draft_status, d.written_at AS draft_written_at "
                "FROM messages m LEFT JOIN drafts d ON d.original_key = "
                "m.message_key AND d.account = m.account "
                if drafts
                else "NULL AS draft_status, NULL AS draft_written_at FROM messages m "
            )
            + f"WHERE {where} ORDER BY m.created_at DESC, m.id DESC",
            params,
        )
        return [self._ledger_entry(r) for r in rows]

    @staticmethod
    def _ledger_entry(r: sqlite3.Row) -> LedgerEntry:
        row = ledger_row(r)  # the ledger's own decoding, so a format change reaches both
        return LedgerEntry(
            account=r["account"],
            folder=r["folder"],
            uidvalidity=row.uidvalidity,
            uid=row.uid,
            message_key=row.message_key,
            sender=row.sender,
            label=row.label,
            confidence=row.confidence,
            offenses=row.offenses,
            model_version=row.model_version,
            labels=row.labels,
            draft_message_id=row.draft_message_id,
            draft_written=row.draft_written,
            draft_status=r["draft_status"] or "",
            draft_written_at=r["draft_written_at"] or "",
            note=row.note,
            status=row.status,
            error=row.error,
            created_at=parse_ts(r["created_at"]) or _LONG_AGO,
        )


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger row of `triage.store.state` as `triage explain` shows it."""

    account: str
    folder: str
    uidvalidity: int
    uid: int
    message_key: str
    sender: str
    label: str | None
    confidence: float | None
    offenses: tuple[str, ...]
    model_version: str
    labels: tuple[str, ...]
    draft_message_id: str
    draft_written: bool
    draft_status: str
    draft_written_at: str
    note: str
    status: str
    error: str
    created_at: datetime


def _correction(r: sqlite3.Row) -> Correction:
    return Correction(
        id=r["id"],
        account=r["account"],
        folder=r["folder"],
        uid=r["uid"],
        message_key=r["message_key"],
        message_id=r["message_id"],
        sender=r["sender"],
        predicted=r["predicted"],
        old_label=r["old_label"],
        new_label=r["new_label"],
        kind=r["kind"],
        shadow=bool(r["shadow"]),
        labels=tuple(json.loads(r["labels"])),
        model_version=r["model_version"],
        created_at=parse_ts(r["created_at"]) or _LONG_AGO,
        raw=bytes(r["raw"]) if r["raw"] is not None else None,
    )
