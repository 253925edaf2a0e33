"""The folder checkpoints and the per-message ledger (`folders`, `messages`): where each folder
stopped, and what was decided and done for each message. Kept apart from the rest of `State`
because this is what makes every effect happen exactly once (`triage.daemon.batch`): a row is
written before any effect, with the batch's drafts planned in the same transaction
(`triage.store.drafts.plan_draft`), and settled after, with the checkpoint.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from triage.batching import chunks
from triage.store.drafts import plan_draft
from triage.store.records import DraftPlan, FolderCheckpoint, Intent, LedgerRow, ledger_row
from triage.store.schema import SQL_CHUNK, Database, format_ts, parse_ts


class Ledger(Database):
    """`State`'s checkpoints and ledger (see `triage.store.state`)."""

    # -- folders

    def folder(self, account: str, folder: str) -> FolderCheckpoint | None:
        rows = self._query(
            "SELECT * FROM folders WHERE account = ? AND folder = ?", (account, folder)
        )
        if not rows:
            return None
        r = rows[0]
        since = date.fromisoformat(r["backfill_since"]) if r["backfill_since"] else None
        return FolderCheckpoint(
            r["account"],
            r["folder"],
            r["uidvalidity"],
            r["last_uid"],
            r["highestmodseq"],
            since,
            r["backfill_end_uid"],
            parse_ts(r["created_at"]) or datetime.now(UTC),
        )

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
                (
                    account,
                    folder,
                    uidvalidity,
                    last_uid,
                    highestmodseq,
                    backfill_since.isoformat() if backfill_since else None,
                    backfill_end_uid,
                    format_ts(now),
                    format_ts(now),
                ),
            )
        checkpoint = self.folder(account, folder)
        assert checkpoint is not None
        return checkpoint

    def advance(
        self,
        account: str,
        folder: str,
        uidvalidity: int,
        last_uid: int,
        highestmodseq: int | None,
        now: datetime,
    ) -> None:
        """Move the checkpoint forward (never back) under the same UIDVALIDITY."""
        with self._transaction() as db:
            self._advance(db, account, folder, uidvalidity, last_uid, highestmodseq, now)

    @staticmethod
    def _advance(
        db: sqlite3.Connection,
        account: str,
        folder: str,
        uidvalidity: int,
        last_uid: int,
        highestmodseq: int | None,
        now: datetime,
    ) -> None:
        db.execute(
            "UPDATE folders SET last_uid = MAX(last_uid, ?), "
            "highestmodseq = COALESCE(?, highestmodseq), updated_at = ? "
            "WHERE account = ? AND folder = ? AND uidvalidity = ?",
            (last_uid, highestmodseq, format_ts(now), account, folder, uidvalidity),
        )

    # -- the ledger

    def ledger(
        self, account: str, folder: str, uidvalidity: int, uids: Iterable[int]
    ) -> dict[int, LedgerRow]:
        """Rows for these UIDs under this UIDVALIDITY."""
        found: dict[int, LedgerRow] = {}
        wanted = list(uids)
        for chunk in chunks(wanted, SQL_CHUNK):
            marks = ",".join("?" * len(chunk))
            for r in self._query(
                f"SELECT * FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ? "
                f"AND uid IN ({marks})",
                (account, folder, uidvalidity, *chunk),
            ):
                found[r["uid"]] = ledger_row(r)
        return found

    def known_uids(self, account: str, folder: str, uidvalidity: int, max_uid: int) -> set[int]:
        return {
            r[0]
            for r in self._query(
                "SELECT uid FROM messages WHERE account = ? AND folder = ? AND uidvalidity = ? "
                "AND uid <= ?",
                (account, folder, uidvalidity, max_uid),
            )
        }

    def seen_before(
        self, account: str, folder: str, uidvalidity: int, keys: Iterable[str]
    ) -> dict[str, LedgerRow]:
        """Settled rows for these message keys under *other* UIDVALIDITYs of the folder."""
        found: dict[str, LedgerRow] = {}
        wanted = [k for k in dict.fromkeys(keys) if k]
        for chunk in chunks(wanted, SQL_CHUNK):
            marks = ",".join("?" * len(chunk))
            for r in self._query(
                f"SELECT * FROM messages WHERE account = ? AND folder = ? AND uidvalidity != ? "
                f"AND status IN ('done', 'duplicate', 'error') AND message_key IN ({marks}) "
                f"ORDER BY id",
                (account, folder, uidvalidity, *chunk),
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
                    plan = plan_draft(
                        db, account, folder, drafts_folder, intent, daily_cap, cooldown_days, now
                    )
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
                    (
                        account,
                        folder,
                        uidvalidity,
                        intent.uid,
                        intent.message_key,
                        intent.message_id,
                        intent.sender,
                        intent.label,
                        intent.confidence,
                        ";".join(intent.offenses),
                        intent.model_version,
                        json.dumps(intent.labels),
                        draft_id,
                        note,
                        intent.status,
                        intent.error,
                        stamp,
                        stamp,
                    ),
                )
        return plans

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
                [
                    (status, error, error, status, stamp, account, folder, uidvalidity, uid)
                    for uid, status, error in results
                ],
            )
            if checkpoint_uid is not None:
                self._advance(db, account, folder, uidvalidity, checkpoint_uid, highestmodseq, now)

    def counts(self, account: str | None = None) -> dict[str, dict[str, int]]:
        """account -> {label or status -> number of messages}."""
        result: dict[str, dict[str, int]] = {}
        where, params = ("WHERE account = ?", (account,)) if account else ("", ())
        for r in self._query(
            f"SELECT account, status, COALESCE(label, '') AS label, COUNT(*) AS n "
            f"FROM messages {where} GROUP BY account, status, label",
            params,
        ):
            bucket = result.setdefault(r["account"], {})
            key = r["label"] if r["status"] == "done" and r["label"] else r["status"]
            bucket[key] = bucket.get(key, 0) + r["n"]
        return result

    def last_errors(self, account: str, limit: int = 5) -> list[tuple[str, int, str]]:
        """The latest messages that were skipped as errors or whose draft failed."""
        return [
            (r["folder"], r["uid"], r["error"])
            for r in self._query(
                "SELECT folder, uid, error FROM messages WHERE account = ? AND error != '' "
                "ORDER BY updated_at DESC, id DESC LIMIT ?",
                (account, limit),
            )
        ]
