"""The daemon's memory: checkpoints, the ledger, drafts, sender history and heartbeats, read
and written through one connection per thread (the tables: `triage.store.schema`).

No secrets are ever stored: no passwords, no message bodies. Each thread opens its own `State`
(SQLite connections are not shared between threads); WAL lets `triage status` read while the
daemon writes.

`State` is the one object the daemon holds; its methods live by tables in `triage.store.ledger`
(checkpoints, ledger), `drafts`, `contacts` (sender history) and `activity` (heartbeats), joined
here as mixins over one `Database`. Mixins rather than parts: they must share one connection
and one transaction (a batch's ledger rows and its drafts are planned together), and every
caller keeps calling `state.advance(...)`, `state.heartbeat(...)` as before.
"""

from __future__ import annotations

from triage.store.activity import Heartbeats
from triage.store.contacts import Contacts
from triage.store.drafts import DraftLog
from triage.store.ledger import Ledger
from triage.store.schema import migrate


class State(Ledger, DraftLog, Contacts, Heartbeats):
    """One connection to the state database. Not shared between threads: open one per thread."""

    def _setup(self) -> None:
        if not self.readonly:
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        migrate(self._db, self.path, readonly=self.readonly)
