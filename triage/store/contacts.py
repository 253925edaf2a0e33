"""Who the user writes to (`sent_sync`, `contacts`): addresses counted from the Sent folder and
where that count stopped. The relationship signal the classifier gets; kept apart because it
is per address over all accounts, not per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from triage.batching import chunks
from triage.store.schema import SQL_CHUNK, Database, format_ts


class Contacts(Database):
    """`State`'s sender history (see `triage.store.state`)."""

    def sent_checkpoint(self, account: str) -> tuple[str, int, int] | None:
        rows = self._query(
            "SELECT folder, uidvalidity, last_uid FROM sent_sync WHERE account = ?", (account,)
        )
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def add_contacts(
        self,
        account: str,
        folder: str,
        uidvalidity: int,
        last_uid: int,
        counts: Mapping[str, int],
        *,
        reset: bool,
        now: datetime,
    ) -> None:
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
                f"GROUP BY address",
                chunk,
            ):
                found[r[0]] = int(r[1])
        return found
