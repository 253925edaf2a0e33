"""Corrections: noticing what the user changed about triage's labels, and remembering it.

Users review triage's labels in their mail client. When a label is wrong they change it there:
remove or swap a triage keyword or Gmail label, move a message out of a triage folder, or put a
triage label on a message triage left alone. The daemon notices (see `CorrectionWatcher`) and
records a *correction*; `triage learn` (`triage.training.learning`) trains a personal model
from them.

How the labels on a message are read as a class (`view`):

- one of triage's class labels (relationship or solicitation): that class;
- none of them: "other" (what triage itself leaves unlabelled); in shadow mode a message that
  still carries only the review label is *unreviewed* instead;
- both: the one triage did not put there is the user's new choice (the user added a label and
  left the old one); when neither was triage's, nothing is decided until the user removes one.

A change of that class against what triage expects on the message is recorded as a
`correction` (old label, new label). In shadow mode triage puts only the review label on the
mail it would label; the user reviews a message by giving it the class label they think is
right, or by removing the review label when it is neither (= "other"). That is a
`confirmation` when it agrees with triage's decision and a `correction` when it does not: a
message counts as *reviewed* once it has either. `triage status` reports per-class precision
over the reviewed messages.

After every change the labels the user left on the message become what triage expects there
(`label_state`), so a label the user removed is never applied again (the daemon re-applies
labels only to messages it meets again after a UIDVALIDITY change, and then uses these), and
the same change is never recorded twice.

Storage: the corrections tables of the state database, whose schema and migrations
`triage.store.schema` owns (version 2 moved them there). A correction keeps the message's bytes as
the daemon fetched them (header plus at most `RAW_CAP` bytes of the body), so its training row can
be rebuilt by any later version of the feature code; nothing else in the database holds message
bodies, and only messages the user corrected or reviewed are kept.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from triage.config import LabelSet
from triage.errors import MailboxError, StateError
from triage.mail.message_ids import message_id_in
from triage.store.records import ledger_row
from triage.store.schema import connect, db_path, format_ts, migrate, parse_ts, transaction

log = logging.getLogger(__name__)

CLASSES = ("relationship", "solicitation", "other")
RAW_CAP = 256 * 1024  # what the daemon fetches of a body: the same bytes it classified

Kind = Literal["correction", "confirmation", "labels"]



_LONG_AGO = datetime.min.replace(tzinfo=UTC)  # for a row with no timestamp


# --------------------------------------------------------------------------- the pure part


@dataclass(frozen=True)
class LabelView:
    """What the triage labels on a message say: a class, or nothing decided yet."""

    label: str | None  # "relationship", "solicitation", "other"; None = undecided
    unreviewed: bool = False  # shadow mode: only the review label is there


def triage_labels(names: LabelSet) -> frozenset[str]:
    """The label names that carry a class (the drafted label does not)."""
    return frozenset(n for n in (names.relationship, names.solicitation, names.review) if n)


def view(labels: Iterable[str], names: LabelSet, *, was: str | None = None) -> LabelView:
    """Read triage labels as a class. `was` is the class expected before, which breaks the tie
    when both class labels are present (the other one is the user's addition)."""
    present = set(labels)
    classes = [c for c in ("relationship", "solicitation") if names.for_class(c) in present]
    if not classes:
        if names.review and names.review in present:
            return LabelView(None, unreviewed=True)
        return LabelView("other")
    if len(classes) == 1:
        return LabelView(classes[0])
    if was in classes:
        return LabelView(next(c for c in classes if c != was))
    return LabelView(None)


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


def detect(watched: Watched, present: Iterable[str], names: LabelSet) -> Change | None:
    """What the labels now on a message say about triage's decision, or None for nothing new.

    Pure: `present` is every flag/label the message carries now; only triage's own class and
    review labels count.
    """
    relevant = triage_labels(names)
    now = frozenset(label for label in present if label in relevant)
    before = frozenset(label for label in watched.expected if label in relevant)
    if now == before:
        return None
    expected = view(before, names, was=watched.predicted)
    observed = view(now, names, was=expected.label or watched.predicted)
    if observed.label is None:
        return None  # still unreviewed, or both class labels and neither was triage's
    if expected.unreviewed:
        kind: Kind = "confirmation" if observed.label == watched.predicted else "correction"
        return Change(watched, kind, watched.predicted, observed.label, now)
    old = expected.label or watched.predicted
    if observed.label == old:
        return Change(watched, "labels", old, old, now)
    return Change(watched, "correction", old, observed.label, now)


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


class CorrectionStore:
    """The corrections tables in the state database. One per thread, like `triage.store.state`."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        try:
            # One per thread, but created on one thread and handed to another.
            self._db = connect(self.path, readonly=readonly, check_same_thread=False)
            if not readonly:
                migrate(self._db, self.path, readonly=False)  # tables included: one schema
            self._has_tables = self._table_exists("corrections")
            self._has_ledger = self._table_exists("messages")
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path}: {exc}") from None

    @classmethod
    def open(cls, state_dir: Path, *, readonly: bool = False) -> CorrectionStore:
        return cls(db_path(state_dir), readonly=readonly)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CorrectionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _table_exists(self, name: str) -> bool:
        return bool(self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone())

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self.path, readonly=self.readonly)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path}: {exc}") from None

    # -- what to watch

    def watched(self, account: str, folder: str, uidvalidity: int, *, since: datetime,
                names: LabelSet) -> list[Watched]:
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
            expected = applied if r["user_labels"] is None else \
                frozenset(json.loads(r["user_labels"])) & relevant
            result.append(Watched(
                uid=r["uid"], uidvalidity=r["uidvalidity"], message_key=r["message_key"],
                message_id=r["message_id"], sender=r["sender"], predicted=r["label"],
                expected=expected, model_version=r["model_version"],
                shadow=bool(names.review) and names.review in applied,
            ))
        return result

    def user_labels(self, account: str, folder: str, message_key: str) -> frozenset[str] | None:
        """The triage labels the user left on this message (any UIDVALIDITY), or None when the
        user never changed them: what to re-apply when the message is met again."""
        if not self._has_tables:
            return None
        rows = self._query(
            "SELECT labels FROM label_state WHERE account = ? AND folder = ? AND message_key = ? "
            "ORDER BY updated_at DESC LIMIT 1", (account, folder, message_key))
        return frozenset(json.loads(rows[0][0])) if rows else None

    def sync_point(self, account: str, folder: str) -> tuple[int, int | None] | None:
        """(UIDVALIDITY, HIGHESTMODSEQ) the last check of the folder covered."""
        if not self._has_tables:
            return None
        rows = self._query("SELECT uidvalidity, modseq FROM label_sync WHERE account = ? "
                           "AND folder = ?", (account, folder))
        return (rows[0][0], rows[0][1]) if rows else None

    def set_sync_point(self, account: str, folder: str, uidvalidity: int, modseq: int | None,
                       now: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO label_sync (account, folder, uidvalidity, modseq, checked_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET "
                "uidvalidity = excluded.uidvalidity, modseq = excluded.modseq, "
                "checked_at = excluded.checked_at",
                (account, folder, uidvalidity, modseq, format_ts(now)))

    # -- recording

    def record(self, account: str, folder: str, changes: Sequence[Change],
               raws: Mapping[int, bytes], now: datetime) -> int:
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
                    (account, folder, w.uidvalidity, w.uid, w.message_key, labels, stamp))
                if not change.teaches:
                    continue
                raw = raws.get(w.uid)
                db.execute(
                    "INSERT INTO corrections (account, folder, uidvalidity, uid, message_key, "
                    "message_id, sender, predicted, old_label, new_label, kind, shadow, labels, "
                    "model_version, raw, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (account, folder, w.uidvalidity, w.uid, w.message_key, w.message_id,
                     w.sender, w.predicted, change.old_label, change.new_label, change.kind,
                     int(w.shadow), labels, w.model_version,
                     raw[:RAW_CAP] if raw is not None else None, stamp))
                added += 1
        return added

    # -- reading

    def corrections(self, account: str | None = None, *, message_id: str = "",
                    with_raw: bool = False) -> list[Correction]:
        if not self._has_tables:
            return []
        where, params = [], []
        if account is not None:
            where.append("account = ?")
            params.append(account)
        if message_id:
            where.append("message_id = ?")
            params.append(message_id)
        columns = "*" if with_raw else "id, account, folder, uid, message_key, message_id, " \
            "sender, predicted, old_label, new_label, kind, shadow, labels, model_version, " \
            "created_at, NULL AS raw"
        sql = f"SELECT {columns} FROM corrections" + (
            " WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
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
            params)
        return [_correction(r) for r in rows]

    def last_id(self, account: str) -> int:
        if not self._has_tables:
            return 0
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM corrections WHERE account = ?",
                               (account,))[0][0])

    def last_run(self, account: str) -> int:
        """The newest correction id the last `triage learn` (or rollback) looked at."""
        if not self._has_tables:
            return 0
        rows = self._query("SELECT last_correction_id FROM learn_runs WHERE account = ?",
                           (account,))
        return int(rows[0][0]) if rows else 0

    def since_learn(self, account: str) -> int:
        """Corrections (not confirmations) recorded after the last learn run."""
        if not self._has_tables:
            return 0
        return int(self._query(
            "SELECT COUNT(*) FROM corrections WHERE account = ? AND kind = 'correction' "
            "AND id > ?", (account, self.last_run(account)))[0][0])

    def mark_run(self, account: str, last_correction_id: int, outcome: str,
                 now: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO learn_runs (account, last_correction_id, outcome, at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET "
                "last_correction_id = MAX(last_correction_id, excluded.last_correction_id), "
                "outcome = excluded.outcome, at = excluded.at",
                (account, last_correction_id, outcome[:500], format_ts(now)))

    def review_summary(self, account: str) -> ReviewSummary:
        reviewed = {c: 0 for c in CLASSES}
        right = {c: 0 for c in CLASSES}
        corrections = 0
        if self._has_tables:
            for r in self._query(
                "SELECT predicted, new_label FROM corrections WHERE id IN (SELECT MAX(id) "
                "FROM corrections WHERE account = ? AND shadow = 1 GROUP BY message_key)",
                (account,)
            ):
                if r["predicted"] in reviewed:
                    reviewed[r["predicted"]] += 1
                    right[r["predicted"]] += r["predicted"] == r["new_label"]
            corrections = int(self._query(
                "SELECT COUNT(*) FROM corrections WHERE account = ? AND kind = 'correction'",
                (account,))[0][0])
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
            "SELECT m.*, " + ("d.status AS draft_status, d.written_at AS draft_written_at "
                              "FROM messages m LEFT JOIN drafts d ON d.original_key = "
                              "m.message_key AND d.account = m.account " if drafts else
                              "NULL AS draft_status, NULL AS draft_written_at FROM messages m ")
            + f"WHERE {where} ORDER BY m.created_at DESC, m.id DESC", params)
        return [self._ledger_entry(r) for r in rows]

    @staticmethod
    def _ledger_entry(r: sqlite3.Row) -> LedgerEntry:
        row = ledger_row(r)  # the ledger's own decoding, so a format change reaches both
        return LedgerEntry(
            account=r["account"], folder=r["folder"], uidvalidity=row.uidvalidity, uid=row.uid,
            message_key=row.message_key, sender=row.sender, label=row.label,
            confidence=row.confidence, offenses=row.offenses, model_version=row.model_version,
            labels=row.labels, draft_message_id=row.draft_message_id,
            draft_written=row.draft_written, draft_status=r["draft_status"] or "",
            draft_written_at=r["draft_written_at"] or "", note=row.note, status=row.status,
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
        id=r["id"], account=r["account"], folder=r["folder"], uid=r["uid"],
        message_key=r["message_key"], message_id=r["message_id"], sender=r["sender"],
        predicted=r["predicted"], old_label=r["old_label"], new_label=r["new_label"],
        kind=r["kind"], shadow=bool(r["shadow"]), labels=tuple(json.loads(r["labels"])),
        model_version=r["model_version"], created_at=parse_ts(r["created_at"]) or _LONG_AGO,
        raw=bytes(r["raw"]) if r["raw"] is not None else None,
    )


# --------------------------------------------------------------------------- reading labels


@runtime_checkable
class LabelReader(Protocol):
    """A mailbox that can tell which triage labels messages carry without fetching them.

    The IMAP adapter implements it with `UID FETCH (FLAGS)` or `(X-GM-LABELS)`, narrowed to what
    changed with `(CHANGEDSINCE modseq)` where the server has CONDSTORE, and with the Message-IDs
    in the label folders in the folders style.
    """

    def read_labels(self, folder: str, uids: Sequence[int], names: Sequence[str], *,
                    changed_since: int | None = None,
                    message_ids: Mapping[int, str] | None = None) -> dict[int, frozenset[str]]:
        """uid -> which of `names` it carries. With `changed_since`, only messages changed
        after that modseq are reported (absent = unchanged); without, absent = gone."""
        ...


def read_labels(mailbox: Any, folder: str, uids: Sequence[int], names: Sequence[str], *,
                changed_since: int | None, message_ids: Mapping[int, str]
                ) -> dict[int, frozenset[str]]:
    """`LabelReader.read_labels` where the mailbox has it; otherwise from a plain FETCH (keywords,
    Gmail labels) or from the Message-IDs in the label folders (folders style)."""
    if isinstance(mailbox, LabelReader):
        return mailbox.read_labels(folder, uids, names, changed_since=changed_since,
                                   message_ids=message_ids)
    wanted = set(names)
    if mailbox.label_style != "folders":
        return {m.uid: (m.flags | m.labels) & wanted for m in mailbox.fetch(folder, uids)}
    present = set(mailbox.search(folder, min_uid=min(uids, default=1)))
    holders: dict[str, set[str]] = {}
    for name in names:
        try:
            members = mailbox.search(name)
        except MailboxError:
            members = []  # the label folder does not exist (yet)
        ids: set[str] = set()
        if members and hasattr(mailbox, "fetch_headers"):
            for raw in mailbox.fetch_headers(name, members, ["Message-ID"]).values():
                ids.add(message_id_in(raw))
        holders[name] = ids - {""}
    return {uid: frozenset(n for n in names if message_ids.get(uid, "") in holders[n])
            for uid in uids if uid in present}


# --------------------------------------------------------------------------- the daemon's hook


class CorrectionWatcher:
    """What the daemon calls after each catch-up of a folder: notice and record label changes.

    With CONDSTORE only the messages changed since the last check are read (and nothing at all
    when the folder's HIGHESTMODSEQ has not moved); otherwise the labels of every message
    triage handled in the last `watch_days` are read, which is one small FETCH of flags.
    """

    def __init__(self, store: CorrectionStore | Path, account: str, *, watch_days: int = 30,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_recorded: Callable[[CorrectionStore], object] | None = None) -> None:
        # A path: the database is opened for each check and closed after it, so a watcher
        # needs no closing and can be shared by threads.
        self._store = store
        self.account = account
        self.watch_days = watch_days
        self.now = now
        self.on_recorded = on_recorded

    @contextmanager
    def _opened(self) -> Iterator[CorrectionStore]:
        if isinstance(self._store, CorrectionStore):
            yield self._store
            return
        store = CorrectionStore(self._store)
        try:
            yield store
        finally:
            store.close()

    def labels_to_reapply(self, folder: str, message_key: str, recorded: Sequence[str],
                          names: LabelSet) -> tuple[str, ...]:
        """The labels to put back on a message met again (after a UIDVALIDITY change): the
        ones recorded for it, except that the user's own choice replaces triage's."""
        with self._opened() as store:
            user = store.user_labels(self.account, folder, message_key)
        if user is None:
            return tuple(recorded)
        relevant = triage_labels(names)
        return tuple(label for label in recorded if label not in relevant) + tuple(sorted(user))

    def check(self, mailbox: Any, folder: str, names: LabelSet, uidvalidity: int,
              highestmodseq: int | None) -> list[Change]:
        """Read the labels, record what changed, return the changes."""
        with self._opened() as store:
            return self._check(store, mailbox, folder, names, uidvalidity, highestmodseq)

    def _check(self, store: CorrectionStore, mailbox: Any, folder: str, names: LabelSet,
               uidvalidity: int, highestmodseq: int | None) -> list[Change]:
        now = self.now()
        sync = store.sync_point(self.account, folder)
        changed_since = None
        if sync is not None and sync[0] == uidvalidity and sync[1] is not None \
                and highestmodseq is not None and mailbox.label_style != "folders":
            if highestmodseq <= sync[1]:
                return []  # nothing at all changed in the folder since the last check
            changed_since = sync[1]
        watched = store.watched(self.account, folder, uidvalidity,
                                     since=now - timedelta(days=self.watch_days), names=names)
        changes: list[Change] = []
        if watched:
            by_uid = {w.uid: w for w in watched}
            relevant = sorted(triage_labels(names))
            current = read_labels(mailbox, folder, sorted(by_uid), relevant,
                                  changed_since=changed_since,
                                  message_ids={w.uid: w.message_id for w in watched})
            for uid, present in sorted(current.items()):
                w = by_uid.get(uid)
                change = detect(w, present, names) if w is not None else None
                if change is not None:
                    changes.append(change)
        raws: dict[int, bytes] = {}
        teaching = [c.watched.uid for c in changes if c.teaches]
        if teaching:
            raws = {m.uid: m.raw for m in mailbox.fetch(folder, teaching)}
        added = store.record(self.account, folder, changes, raws, now) if changes else 0
        store.set_sync_point(self.account, folder, uidvalidity, highestmodseq, now)
        for change in changes:
            if change.teaches:
                w = change.watched
                log.info("%s/%s: UID %d %s: %s -> %s (%s)", self.account, folder, w.uid,
                         "reviewed" if change.kind == "confirmation" else "corrected",
                         change.old_label, change.new_label, w.message_id or w.message_key)
        if added and self.on_recorded is not None:
            try:
                self.on_recorded(store)
            except Exception as exc:  # noqa: BLE001 - never let it stop the daemon
                log.error("%s: after recording corrections: %s", self.account, exc)
        return changes
