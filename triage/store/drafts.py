"""The feedback drafts planned and written (`drafts`): one per original message, at most one per
sender within the cooldown, at most the daily cap over all accounts; read by `triage drafts`.
Apart from the ledger because a draft outlives its message: one the user deleted stays here, so
it is never written again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime, timedelta

from triage.batching import chunks
from triage.store.records import DraftPlan, DraftRecord, Intent
from triage.store.schema import SQL_CHUNK, Database, format_ts, parse_ts


def plan_draft(
    db: sqlite3.Connection,
    account: str,
    folder: str,
    drafts_folder: str,
    intent: Intent,
    daily_cap: int,
    cooldown_days: int,
    now: datetime,
) -> DraftPlan:
    """Plan one draft inside the caller's write transaction: none when this message already
    has one, the sender is within the cooldown or the daily cap is reached; else its row."""
    row = db.execute(
        "SELECT created_at FROM drafts WHERE original_key = ?", (intent.message_key,)
    ).fetchone()
    if row:
        return DraftPlan(False, f"a draft for this message was already written ({row[0][:10]})")
    if not intent.sender:
        return DraftPlan(False, "no sender address to reply to")
    if cooldown_days > 0:
        since = format_ts(now - timedelta(days=cooldown_days))
        row = db.execute(
            "SELECT created_at FROM drafts WHERE sender = ? AND status != 'failed' "
            "AND created_at >= ? ORDER BY created_at DESC LIMIT 1",
            (intent.sender, since),
        ).fetchone()
        if row:
            return DraftPlan(
                False,
                f"this sender already got a draft on {row[0][:10]} (cooldown {cooldown_days} days)",
            )
    written_today = db.execute(
        "SELECT COUNT(*) FROM drafts WHERE status != 'failed' AND created_at >= ?",
        (format_ts(now - timedelta(days=1)),),
    ).fetchone()[0]
    if written_today >= daily_cap:
        return DraftPlan(False, f"the daily cap of {daily_cap} drafts is reached", capped=True)
    db.execute(
        "INSERT INTO drafts (account, folder, drafts_folder, original_key, "
        "original_message_id, draft_message_id, sender, subject, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?)",
        (
            account,
            folder,
            drafts_folder,
            intent.message_key,
            intent.message_id,
            intent.draft_message_id,
            intent.sender,
            intent.subject[:300],
            format_ts(now),
        ),
    )
    return DraftPlan(True)


class DraftLog(Database):
    """`State`'s drafts (see `triage.store.state`)."""

    def plan_capped_draft(
        self,
        account: str,
        folder: str,
        uidvalidity: int,
        intent: Intent,
        *,
        drafts_folder: str,
        daily_cap: int,
        cooldown_days: int,
        now: datetime,
    ) -> DraftPlan:
        """Plan again a draft the daily cap refused, after a draft of the same batch failed and
        gave its place back; the ledger row then names the draft, as if planned at first."""
        with self._transaction() as db:
            plan = plan_draft(
                db, account, folder, drafts_folder, intent, daily_cap, cooldown_days, now
            )
            if plan.planned:
                db.execute(
                    "UPDATE messages SET draft_message_id = ?, note = '', updated_at = ? "
                    "WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?",
                    (
                        intent.draft_message_id,
                        format_ts(now),
                        account,
                        folder,
                        uidvalidity,
                        intent.uid,
                    ),
                )
        return plan

    def draft_written(
        self,
        account: str,
        folder: str,
        uidvalidity: int,
        uid: int,
        draft_message_id: str,
        now: datetime,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE drafts SET status = 'written', written_at = ? WHERE draft_message_id = ?",
                (format_ts(now), draft_message_id),
            )
            db.execute(
                "UPDATE messages SET draft_written = 1, updated_at = ? WHERE account = ? "
                "AND folder = ? AND uidvalidity = ? AND uid = ?",
                (format_ts(now), account, folder, uidvalidity, uid),
            )

    def draft_failed(self, draft_message_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE drafts SET status = 'failed' WHERE draft_message_id = ? "
                "AND status = 'planned'",
                (draft_message_id,),
            )

    def recently_drafted(
        self,
        senders: Iterable[str],
        cooldown_days: int,
        now: datetime,
        *,
        except_reply_to: str = "",
    ) -> set[str]:
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
            found.update(
                r[0]
                for r in self._query(
                    "SELECT DISTINCT sender FROM drafts WHERE status != 'failed' "
                    "AND created_at >= ? "
                    f"AND original_message_id != ? AND sender IN ({marks})",
                    (since, except_reply_to, *chunk),
                )
            )
        return found

    def drafts(self, account: str | None = None) -> list[DraftRecord]:
        where, params = ("WHERE account = ?", (account,)) if account else ("", ())
        return [
            DraftRecord(
                r["account"],
                r["folder"],
                r["drafts_folder"],
                r["original_message_id"],
                r["draft_message_id"],
                r["sender"],
                r["subject"],
                r["status"],
                parse_ts(r["created_at"]) or datetime.min,
                parse_ts(r["written_at"]),
            )
            for r in self._query(f"SELECT * FROM drafts {where} ORDER BY created_at, id", params)
        ]
