"""The state database's one schema: its tables, their migrations, the connection and the
transaction every writer uses. Everything that keeps data in `triage.sqlite3` (the daemon's
`State`, the corrections store) opens it through here (`Database`), so there is one owner of its
shape.

What it holds, and why:

- `folders`: per account and folder the UIDVALIDITY, the last UID processed and HIGHESTMODSEQ,
  plus the backfill window of the first run (so a backfill that is interrupted resumes with the
  same cut-off instead of classifying old mail it was told to leave alone).
- `messages`: the ledger, one row per message seen: decision, confidence, offenses, model
  version, the labels planned and whether they were applied, the draft planned and whether it
  was written, an error if the message could not be handled. A row is written *before* any
  effect (status `pending`) and settled after (`done`, `error`, or `duplicate` for a message
  already handled under an earlier UIDVALIDITY), which is what makes every effect happen exactly
  once across crashes: see `triage.daemon.batch` for the ordering.
- `drafts`: every feedback draft planned or written, keyed by the original message so one
  message never gets two drafts, and queried for the per-sender cooldown, the daily cap and
  `triage drafts`. A draft the user deleted stays here, so it is never written again.
- `sent_sync` and `contacts`: who the user has written to (from the Sent folder), with counts:
  the relationship signal fed to the classifier.
- `activity`: a heartbeat per account and folder written by the running daemon, read by
  `triage status` from another process.
- `corrections`, `label_state`, `label_sync`, `learn_runs`: the labels the user changed and the
  personal models made from them (`triage.store.corrections`).

The schema is versioned with `PRAGMA user_version`; a change is one more script in
`MIGRATIONS`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from triage.errors import StateError

SCHEMA_VERSION = 2
DB_NAME = "triage.sqlite3"
BUSY_TIMEOUT_MS = 10_000
SQL_CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit

SCHEMA = """
CREATE TABLE folders (
    account          TEXT NOT NULL,
    folder           TEXT NOT NULL,
    uidvalidity      INTEGER NOT NULL,
    last_uid         INTEGER NOT NULL DEFAULT 0,
    highestmodseq    INTEGER,
    backfill_since   TEXT,               -- ISO date, NULL = the whole folder
    backfill_end_uid INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (account, folder)
);
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    account         TEXT NOT NULL,
    folder          TEXT NOT NULL,
    uidvalidity     INTEGER NOT NULL,
    uid             INTEGER NOT NULL,
    message_key     TEXT NOT NULL,       -- Message-ID, or a digest of the header without one
    message_id      TEXT NOT NULL DEFAULT '',
    sender          TEXT NOT NULL DEFAULT '',
    label           TEXT,
    confidence      REAL,
    offenses        TEXT NOT NULL DEFAULT '',
    model_version   TEXT NOT NULL DEFAULT '',
    labels          TEXT NOT NULL DEFAULT '[]',   -- JSON list of label names planned
    labels_applied  INTEGER NOT NULL DEFAULT 0,
    draft_message_id TEXT NOT NULL DEFAULT '',    -- the draft planned for this message
    draft_written   INTEGER NOT NULL DEFAULT 0,
    note            TEXT NOT NULL DEFAULT '',     -- why no draft, what it duplicates, ...
    status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'error', 'duplicate')),
    error           TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (account, folder, uidvalidity, uid)
);
CREATE INDEX messages_by_key ON messages (account, folder, message_key);
CREATE INDEX messages_by_status ON messages (account, status);
CREATE TABLE drafts (
    id                  INTEGER PRIMARY KEY,
    account             TEXT NOT NULL,
    folder              TEXT NOT NULL,       -- where the original is
    drafts_folder       TEXT NOT NULL,
    original_key        TEXT NOT NULL UNIQUE,
    original_message_id TEXT NOT NULL DEFAULT '',
    draft_message_id    TEXT NOT NULL,
    sender              TEXT NOT NULL,       -- the offender: who the draft is addressed to
    subject             TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL CHECK (status IN ('planned', 'written', 'failed')),
    created_at          TEXT NOT NULL,
    written_at          TEXT
);
CREATE INDEX drafts_by_sender ON drafts (sender, created_at);
CREATE INDEX drafts_by_time ON drafts (created_at);
CREATE TABLE sent_sync (
    account     TEXT PRIMARY KEY,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE contacts (
    account TEXT NOT NULL,
    address TEXT NOT NULL,
    times   INTEGER NOT NULL,
    PRIMARY KEY (account, address)
);
CREATE TABLE activity (
    account          TEXT NOT NULL,
    folder           TEXT NOT NULL,
    pid              INTEGER,
    host             TEXT NOT NULL DEFAULT '',
    connected        INTEGER NOT NULL DEFAULT 0,
    started_at       TEXT,
    heartbeat_at     TEXT,
    last_activity_at TEXT,
    last_error       TEXT NOT NULL DEFAULT '',
    last_error_at    TEXT,
    stopped          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, folder)
);
"""

# The corrections the user made by relabelling, the labels triage last saw on each message,
# where the last check stopped, and the last learning run (triage.store.corrections reads them).
CORRECTIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    id            INTEGER PRIMARY KEY,
    account       TEXT NOT NULL,
    folder        TEXT NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uid           INTEGER NOT NULL,
    message_key   TEXT NOT NULL,
    message_id    TEXT NOT NULL DEFAULT '',
    sender        TEXT NOT NULL DEFAULT '',
    predicted     TEXT NOT NULL,            -- triage's decision
    old_label     TEXT NOT NULL,            -- the class the labels said before
    new_label     TEXT NOT NULL,            -- the class the user's labels say now
    kind          TEXT NOT NULL CHECK (kind IN ('correction', 'confirmation')),
    shadow        INTEGER NOT NULL DEFAULT 0,   -- triage had applied only the review label
    labels        TEXT NOT NULL DEFAULT '[]',   -- the triage labels on the message now
    model_version TEXT NOT NULL DEFAULT '',
    raw           BLOB,                     -- header + at most RAW_CAP bytes of body
    created_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_by_account ON corrections (account, id);
CREATE INDEX IF NOT EXISTS corrections_by_message_id ON corrections (message_id);
CREATE TABLE IF NOT EXISTS label_state (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    message_key TEXT NOT NULL,
    labels      TEXT NOT NULL,              -- JSON: the triage labels the user left on it
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (account, folder, uidvalidity, uid)
);
CREATE INDEX IF NOT EXISTS label_state_by_key ON label_state (account, folder, message_key);
CREATE TABLE IF NOT EXISTS label_sync (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    modseq      INTEGER,                    -- HIGHESTMODSEQ the last check covered
    checked_at  TEXT NOT NULL,
    PRIMARY KEY (account, folder)
);
CREATE TABLE IF NOT EXISTS learn_runs (
    account            TEXT PRIMARY KEY,
    last_correction_id INTEGER NOT NULL,    -- corrections up to this id were looked at
    outcome            TEXT NOT NULL DEFAULT '',
    at                 TEXT NOT NULL
);
"""
SCHEMA += CORRECTIONS_SCHEMA

# A schema change: SCHEMA_VERSION += 1 and a script here from the previous version. Version 2
# brought the corrections tables here from triage.store.corrections, which had made them itself.
MIGRATIONS: dict[int, str] = {2: CORRECTIONS_SCHEMA}


def format_ts(when: datetime) -> str:
    """A sortable UTC timestamp string."""
    return when.astimezone(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def db_path(state_dir: Path) -> Path:
    return Path(state_dir) / DB_NAME


def connect(path: Path, *, readonly: bool, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection to the state database in autocommit mode (transactions are explicit).

    A new file is created private (the ledger names correspondents); a writer switches to WAL so
    `triage status` can read while the daemon writes.
    """
    if readonly:
        uri = path.resolve().as_uri() + "?mode=ro"
        db = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=check_same_thread,
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = sqlite3.connect(
            path,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=check_same_thread,
        )
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        db.execute("PRAGMA journal_mode = WAL")
    return db


@contextmanager
def transaction(
    db: sqlite3.Connection, path: Path, *, readonly: bool
) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: one writer at a time, across threads and processes."""
    if readonly:
        raise StateError(f"state database {path} is open read-only")
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StateError(f"state database {path}: {exc}") from None
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    else:
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateError(f"state database {path}: {exc}") from None


def migrate(db: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
    """Bring the database to SCHEMA_VERSION: create it when new, run the migrations when old;
    a read-only connection only checks."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StateError(
            f"state database {path} has schema version {version}, newer than this "
            f"triage understands ({SCHEMA_VERSION}); upgrade triage"
        )
    if readonly:
        if version == 0:
            raise StateError(f"state database {path} is empty (the daemon never ran)")
        raise StateError(f"state database {path} needs an upgrade; run `triage run`")
    with transaction(db, path, readonly=readonly):
        # Re-read inside the write lock: another process may have just created it.
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version == 0:
            scripts = [SCHEMA]
        else:
            scripts = [MIGRATIONS[step] for step in range(version + 1, SCHEMA_VERSION + 1)]
        # executescript() would commit the transaction; run the statements one by one.
        for script in scripts:
            for statement in script.split(";\n"):
                if statement.strip():
                    db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class Database:
    """One connection to the state database, as each store of it (`State`, `CorrectionStore`)
    holds one: opened, queried and written the same way, so a database error always reads
    `state database PATH: ...`. Not shared between threads: open one per thread.

    A subclass says how its connection is set up (`_setup`, inside the error handling) and
    whether it may be handed to another thread (`CHECK_SAME_THREAD`)."""

    CHECK_SAME_THREAD = True

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        try:
            self._db = connect(
                self.path, readonly=readonly, check_same_thread=self.CHECK_SAME_THREAD
            )
            self._setup()
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path}: {exc}") from None

    def _setup(self) -> None:
        """Pragmas, migrations, what the store checks once: run when the connection opens."""

    @classmethod
    def open(cls, state_dir: Path, *, readonly: bool = False) -> Self:
        return cls(db_path(state_dir), readonly=readonly)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self.path, readonly=self.readonly)

    def _query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path}: {exc}") from None
