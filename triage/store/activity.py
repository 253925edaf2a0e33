"""What each worker of the running daemon says it is doing (`activity`): a heartbeat per
account and folder, read by `triage status` from another process. Apart from the ledger
because it is about the daemon's processes, not the mail.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from triage.store.records import Activity
from triage.store.schema import Database, format_ts, parse_ts


class Heartbeats(Database):
    """`State`'s heartbeats (see `triage.store.state`)."""

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
            db.execute(
                "INSERT INTO activity (account, folder) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (account, folder),
            )
            sets = ["heartbeat_at = ?"]
            params: list[Any] = [stamp]
            if started:
                sets += [
                    "started_at = ?",
                    "pid = ?",
                    "host = ?",
                    "last_error = ''",
                    "last_error_at = NULL",
                ]
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
            db.execute(
                f"UPDATE activity SET {', '.join(sets)} WHERE account = ? AND folder = ?",
                (*params, account, folder),
            )

    def activity(self) -> list[Activity]:
        return [
            Activity(
                r["account"],
                r["folder"],
                r["pid"],
                r["host"],
                bool(r["connected"]),
                parse_ts(r["started_at"]),
                parse_ts(r["heartbeat_at"]),
                parse_ts(r["last_activity_at"]),
                r["last_error"],
                parse_ts(r["last_error_at"]),
                bool(r["stopped"]),
            )
            for r in self._query("SELECT * FROM activity ORDER BY account, folder")
        ]
