"""The daemon's memory: checkpoints, the ledger, drafts, sender history and heartbeats, read
and written through one connection per thread (the tables: `triage.store.schema`).

No secrets are ever stored: no passwords, no message bodies. Each thread opens its own `State`
(SQLite connections are not shared between threads); WAL lets `triage status` read while the
daemon writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from triage.batching import chunks
from triage.store.records import (
    Activity,
    DraftPlan,
    DraftRecord,
    FolderCheckpoint,
    Intent,
    LedgerRow,
    ledger_row,
)
from triage.store.schema import Database, format_ts, migrate, parse_ts

SQL_CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit


class State(Database):
    """One connection to the state database. Not shared between threads: open one per thread."""

    def _setup(self) -> None:
        if not self.readonly:
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        migrate(self._db, self.path, readonly=self.readonly)

    # -- folders

    def folder(self, account: str, folder: str) -> FolderCheckpoint | None:
        rows = self._query("SELECT * FROM folders WHERE account = ? AND folder = ?",
                           (account, folder))
        if not rows:
            return None
        r = rows[0]
        since = date.fromisoformat(r["backfill_since"]) if r["backfill_since"] else None
        return FolderCheckpoint(r["account"], r["folder"], r["uidvalidity"], r["last_uid"],
                                r["highestmodseq"], since, r["backfill_end_uid"],
                                parse_ts(r["created_at"]) or datetime.now(UTC))

    def start_folder(
        self,
        account: str,
        folder: str,
        *,
        uidvalidity: int,
        last_uid: int,
        backfill_since: date | None,
        backfill_end_uid: int,
        highestmodseq: int | None,
        now: datetime,
    ) -> FolderCheckpoint:
        """A folder seen for the first time, or again under a new UIDVALIDITY."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO folders (account, folder, uidvalidity, last_uid, highestmodseq, "
                "backfill_since, backfill_end_uid, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
                "last_uid = excluded.last_uid, highestmodseq = excluded.highestmodseq, "
                "backfill_since = excluded.backfill_since, "
                "backfill_end_uid = excluded.backfill_end_uid, updated_at = excluded.updated_at",
                (account, folder, uidvalidity, last_uid, highestmodseq,
                 backfill_since.isoformat() if backfill_since else None, backfill_end_uid,
                 format_ts(now), format_ts(now)),
            )
        checkpoint = self.folder(account, folder)
        assert checkpoint is not None
        return checkpoint

    def advance(self, account: str, folder: str, uidvalidity: int, last_uid: int,
                highestmodseq: int | None, now: datetime) -> None:
        """Move the checkpoint forward (never back) under the same UIDVALIDITY."""
        with self._transaction() as db:
            self._advance(db, account, folder, uidvalidity, last_uid, highestmodseq, now)

    @staticmethod
    def _advance(db: sqlite3.Connection, account: str, folder: str, uidvalidity: int,
                 last_uid: int, highestmodseq: int | None, now: datetime) -> None:
        db.execute(
            "UPDATE folders SET last_uid = MAX(last_uid, ?), "
            "highestmodseq = COALESCE(?, highestmodseq), updated_at = ? "
            "WHERE account = ? AND folder = ? AND uidvalidity = ?",
            (last_uid, highestmodseq, format_ts(now), account, folder, uidvalidity),
        )

    # -- the ledger

    def ledger(self, account: str, folder: str, uidvalidity: int,
               uids: Iterable[int]) -> dict[int, LedgerRow]:
        """Rows for these UIDs under this UIDVALIDITY."""
        found: dict[int, LedgerRow] = {}
        wanted = list(uids)
        for chunk in chunks(wanted, SQL_CHUNK):
            marks = ",".join("?" * len(chunk))
            for r in self._query(
                f"SELECT * FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ? "
                f"AND uid IN ({marks})", (account, folder, uidvalidity, *chunk)
            ):
                found[r["uid"]] = ledger_row(r)
        return found

    def known_uids(self, account: str, folder: str, uidvalidity: int, max_uid: int) -> set[int]:
        return {r[0] for r in self._query(
            "SELECT uid FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ? "
            "AND uid <= ?", (account, folder, uidvalidity, max_uid))}

    def seen_before(self, account: str, folder: str, uidvalidity: int,
                    keys: Iterable[str]) -> dict[str, LedgerRow]:
        """Settled rows for these message keys under *other* UIDVALIDITYs of the folder."""
        found: dict[str, LedgerRow] = {}
        wanted = [k for k in dict.fromkeys(keys) if k]
        for chunk in chunks(wanted, SQL_CHUNK):
            marks = ",".join("?" * len(chunk))
            for r in self._query(
                f"SELECT * FROM messages WHERE account = ? AND folder = ? AND uidvalidity != ? "
                f"AND status IN ('done', 'duplicate', 'error') AND message_key IN ({marks}) "
                f"ORDER BY id", (account, folder, uidvalidity, *chunk)
            ):
                found.setdefault(r["message_key"], ledger_row(r))
        return found

    def record_intents(
        self,
        account: str,
        folder: str,
        uidvalidity: int,
        intents: Sequence[Intent],
        *,
        drafts_folder: str,
        daily_cap: int,
        cooldown_days: int,
        now: datetime,
    ) -> dict[int, DraftPlan]:
        """Write the ledger rows for a batch *before* any effect, and plan its drafts.

        Planning happens in the same write transaction as the rows, so the per-sender cooldown,
        the daily cap (all accounts together) and "one draft per original message" hold across
        threads and processes. Returns, per UID that wanted a draft, whether it got one.
        """
        plans: dict[int, DraftPlan] = {}
        stamp = format_ts(now)
        with self._transaction() as db:
            for intent in intents:
                note = intent.note
                draft_id = ""
                if intent.want_draft:
                    plan = self._plan_draft(db, account, folder, drafts_folder, intent,
                                            daily_cap, cooldown_days, now)
                    plans[intent.uid] = plan
                    if plan.planned:
                        draft_id = intent.draft_message_id
                    else:
                        note = plan.note
                db.execute(
                    "INSERT INTO messages (account, folder, uidvalidity, uid, message_key, "
                    "message_id, sender, label, confidence, offenses, model_version, labels, "
                    "draft_message_id, note, status, error, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (account, folder, uidvalidity, uid) DO NOTHING",
                    (account, folder, uidvalidity, intent.uid, intent.message_key,
                     intent.message_id, intent.sender, intent.label, intent.confidence,
                     ";".join(intent.offenses), intent.model_version, json.dumps(intent.labels),
                     draft_id, note, intent.status, intent.error, stamp, stamp),
                )
        return plans

    @staticmethod
    def _plan_draft(db: sqlite3.Connection, account: str, folder: str, drafts_folder: str,
                    intent: Intent, daily_cap: int, cooldown_days: int,
                    now: datetime) -> DraftPlan:
        row = db.execute("SELECT created_at FROM drafts WHERE original_key = ?",
                         (intent.message_key,)).fetchone()
        if row:
            return DraftPlan(False, f"a draft for this message was already written "
                                    f"({row[0][:10]})")
        if not intent.sender:
            return DraftPlan(False, "no sender address to reply to")
        if cooldown_days > 0:
            since = format_ts(now - timedelta(days=cooldown_days))
            row = db.execute(
                "SELECT created_at FROM drafts WHERE sender = ? AND status != 'failed' "
                "AND created_at >= ? ORDER BY created_at DESC LIMIT 1",
                (intent.sender, since)).fetchone()
            if row:
                return DraftPlan(False, f"this sender already got a draft on {row[0][:10]} "
                                        f"(cooldown {cooldown_days} days)")
        written_today = db.execute(
            "SELECT COUNT(*) FROM drafts WHERE status != 'failed' AND created_at >= ?",
            (format_ts(now - timedelta(days=1)),)).fetchone()[0]
        if written_today >= daily_cap:
            return DraftPlan(False, f"the daily cap of {daily_cap} drafts is reached",
                             capped=True)
        db.execute(
            "INSERT INTO drafts (account, folder, drafts_folder, original_key, "
            "original_message_id, draft_message_id, sender, subject, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?)",
            (account, folder, drafts_folder, intent.message_key, intent.message_id,
             intent.draft_message_id, intent.sender, intent.subject[:300], format_ts(now)),
        )
        return DraftPlan(True)

    def plan_capped_draft(self, account: str, folder: str, uidvalidity: int, intent: Intent, *,
                          drafts_folder: str, daily_cap: int, cooldown_days: int,
                          now: datetime) -> DraftPlan:
        """Plan again a draft the daily cap refused, after a draft of the same batch failed and
        gave its place back; the ledger row then names the draft, as if planned at first."""
        with self._transaction() as db:
            plan = self._plan_draft(db, account, folder, drafts_folder, intent, daily_cap,
                                    cooldown_days, now)
            if plan.planned:
                db.execute("UPDATE messages SET draft_message_id = ?, note = '', updated_at = ? "
                           "WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?",
                           (intent.draft_message_id, format_ts(now), account, folder,
                            uidvalidity, intent.uid))
        return plan

    def draft_written(self, account: str, folder: str, uidvalidity: int, uid: int,
                      draft_message_id: str, now: datetime) -> None:
        with self._transaction() as db:
            db.execute("UPDATE drafts SET status = 'written', written_at = ? "
                       "WHERE draft_message_id = ?", (format_ts(now), draft_message_id))
            db.execute("UPDATE messages SET draft_written = 1, updated_at = ? WHERE account = ? "
                       "AND folder = ? AND uidvalidity = ? AND uid = ?",
                       (format_ts(now), account, folder, uidvalidity, uid))

    def draft_failed(self, draft_message_id: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE drafts SET status = 'failed' WHERE draft_message_id = ? "
                       "AND status = 'planned'", (draft_message_id,))

    def settle(
        self,
        account: str,
        folder: str,
        uidvalidity: int,
        results: Sequence[tuple[int, str, str]],
        *,
        checkpoint_uid: int | None,
        highestmodseq: int | None,
        now: datetime,
    ) -> None:
        """Mark rows done (or error) and move the folder's checkpoint, in one transaction.

        `results` holds (uid, status, error) with status "done" or "error".
        """
        stamp = format_ts(now)
        with self._transaction() as db:
            db.executemany(
                "UPDATE messages SET status = ?, error = CASE WHEN ? = '' THEN error ELSE ? END, "
                "labels_applied = CASE WHEN ? = 'done' THEN 1 ELSE labels_applied END, "
                "updated_at = ? WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?",
                [(status, error, error, status, stamp, account, folder, uidvalidity, uid)
                 for uid, status, error in results],
            )
            if checkpoint_uid is not None:
                self._advance(db, account, folder, uidvalidity, checkpoint_uid, highestmodseq,
                              now)

    def counts(self, account: str | None = None) -> dict[str, dict[str, int]]:
        """account -> {label or status -> number of messages}."""
        result: dict[str, dict[str, int]] = {}
        where, params = ("WHERE account = ?", (account,)) if account else ("", ())
        for r in self._query(
            f"SELECT account, status, COALESCE(label, '') AS label, COUNT(*) AS n "
            f"FROM messages {where} GROUP BY account, status, label", params
        ):
            bucket = result.setdefault(r["account"], {})
            key = r["label"] if r["status"] == "done" and r["label"] else r["status"]
            bucket[key] = bucket.get(key, 0) + r["n"]
        return result

    def last_errors(self, account: str, limit: int = 5) -> list[tuple[str, int, str]]:
        """The latest messages that were skipped as errors or whose draft failed."""
        return [(r["folder"], r["uid"], r["error"]) for r in self._query(
            "SELECT folder, uid, error FROM messages WHERE account = ? AND error != '' "
            "ORDER BY updated_at DESC, id DESC LIMIT ?", (account, limit))]

    # -- drafts

    def recently_drafted(self, senders: Iterable[str], cooldown_days: int,
                         now: datetime, *, except_reply_to: str = "") -> set[str]:
        """Which of these senders got a draft within the cooldown; a draft replying to
        `except_reply_to` (a Message-ID) does not count: a message's own draft is no reason
        not to draft it."""
        wanted = [s for s in set(senders) if s]
        if cooldown_days <= 0 or not wanted:
            return set()
        since = format_ts(now - timedelta(days=cooldown_days))
        found: set[str] = set()
        for chunk in chunks(wanted, SQL_CHUNK):
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._query(
                f"SELECT DISTINCT sender FROM drafts WHERE status != 'failed' AND created_at >= ? "
                f"AND original_message_id != ? AND sender IN ({marks})",
                (since, except_reply_to, *chunk)))
        return found

    def drafts(self, account: str | None = None) -> list[DraftRecord]:
        where, params = ("WHERE account = ?", (account,)) if account else ("", ())
        return [
            DraftRecord(r["account"], r["folder"], r["drafts_folder"], r["original_message_id"],
                        r["draft_message_id"], r["sender"], r["subject"], r["status"],
                        parse_ts(r["created_at"]) or datetime.min, parse_ts(r["written_at"]))
            for r in self._query(f"SELECT * FROM drafts {where} ORDER BY created_at, id", params)
        ]

    # -- who the user writes to

    def sent_checkpoint(self, account: str) -> tuple[str, int, int] | None:
        rows = self._query("SELECT folder, uidvalidity, last_uid FROM sent_sync "
                           "WHERE account = ?", (account,))
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def add_contacts(self, account: str, folder: str, uidvalidity: int, last_uid: int,
                     counts: Mapping[str, int], *, reset: bool, now: datetime) -> None:
        """Add sent-message counts per address and move the Sent checkpoint."""
        with self._transaction() as db:
            if reset:
                db.execute("DELETE FROM contacts WHERE account = ?", (account,))
            db.executemany(
                "INSERT INTO contacts (account, address, times) VALUES (?, ?, ?) "
                "ON CONFLICT (account, address) DO UPDATE SET times = times + excluded.times",
                [(account, address, n) for address, n in counts.items()],
            )
            db.execute(
                "INSERT INTO sent_sync (account, folder, uidvalidity, last_uid, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET "
                "folder = excluded.folder, uidvalidity = excluded.uidvalidity, "
                "last_uid = excluded.last_uid, updated_at = excluded.updated_at",
                (account, folder, uidvalidity, last_uid, format_ts(now)),
            )

    def times_written_to(self, addresses: Iterable[str]) -> dict[str, int]:
        """How often the user wrote to each address, over all accounts."""
        wanted = [a for a in set(addresses) if a]
        found: dict[str, int] = {}
        for chunk in chunks(wanted, SQL_CHUNK):
            marks = ",".join("?" * len(chunk))
            for r in self._query(
                f"SELECT address, SUM(times) FROM contacts WHERE address IN ({marks}) "
                f"GROUP BY address", chunk
            ):
                found[r[0]] = int(r[1])
        return found

    # -- activity (heartbeats for `triage status`)

    def heartbeat(
        self,
        account: str,
        folder: str,
        *,
        now: datetime,
        connected: bool | None = None,
        activity: bool = False,
        error: str | None = None,
        started: bool = False,
        stopped: bool | None = None,
        pid: int | None = None,
        host: str = "",
    ) -> None:
        stamp = format_ts(now)
        with self._transaction() as db:
            db.execute("INSERT INTO activity (account, folder) VALUES (?, ?) "
                       "ON CONFLICT DO NOTHING", (account, folder))
            sets = ["heartbeat_at = ?"]
            params: list[Any] = [stamp]
            if started:
                sets += ["started_at = ?", "pid = ?", "host = ?", "last_error = ''",
                         "last_error_at = NULL"]
                params += [stamp, pid if pid is not None else os.getpid(), host]
            if connected is not None:
                sets.append("connected = ?")
                params.append(int(connected))
            if activity:
                sets.append("last_activity_at = ?")
                params.append(stamp)
            if error is not None:
                sets += ["last_error = ?", "last_error_at = ?"]
                params += [error[:1000], stamp]
            if stopped is not None:
                sets.append("stopped = ?")
                params.append(int(stopped))
            db.execute(f"UPDATE activity SET {', '.join(sets)} WHERE account = ? AND folder = ?",
                       (*params, account, folder))

    def activity(self) -> list[Activity]:
        return [
            Activity(r["account"], r["folder"], r["pid"], r["host"], bool(r["connected"]),
                     parse_ts(r["started_at"]), parse_ts(r["heartbeat_at"]),
                     parse_ts(r["last_activity_at"]), r["last_error"],
                     parse_ts(r["last_error_at"]), bool(r["stopped"]))
            for r in self._query("SELECT * FROM activity ORDER BY account, folder")
        ]
