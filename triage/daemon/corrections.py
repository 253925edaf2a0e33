"""Corrections: noticing what the user changed about triage's labels (`triage.store.corrections`
remembers it).

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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from triage.config import LabelSet
from triage.errors import MailboxError
from triage.mail.message_ids import message_id_in
from triage.store.corrections import Change, CorrectionStore, Kind, Watched, triage_labels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelView:
    """What the triage labels on a message say: a class, or nothing decided yet."""

    label: str | None  # "relationship", "solicitation", "other"; None = undecided
    unreviewed: bool = False  # shadow mode: only the review label is there


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


@runtime_checkable
class LabelReader(Protocol):
    """A mailbox that can tell which triage labels messages carry without fetching them.

    The IMAP adapter implements it with `UID FETCH (FLAGS)` or `(X-GM-LABELS)`, narrowed to what
    changed with `(CHANGEDSINCE modseq)` where the server has CONDSTORE, and with the Message-IDs
    in the label folders in the folders style.
    """

    def read_labels(
        self,
        folder: str,
        uids: Sequence[int],
        names: Sequence[str],
        *,
        changed_since: int | None = None,
        message_ids: Mapping[int, str] | None = None,
    ) -> dict[int, frozenset[str]]:
        """uid -> which of `names` it carries. With `changed_since`, only messages changed
        after that modseq are reported (absent = unchanged); without, absent = gone."""
        ...


def read_labels(
    mailbox: Any,
    folder: str,
    uids: Sequence[int],
    names: Sequence[str],
    *,
    changed_since: int | None,
    message_ids: Mapping[int, str],
) -> dict[int, frozenset[str]]:
    """`LabelReader.read_labels` where the mailbox has it; otherwise from a plain FETCH (keywords,
    Gmail labels) or from the Message-IDs in the label folders (folders style)."""
    if isinstance(mailbox, LabelReader):
        return mailbox.read_labels(
            folder, uids, names, changed_since=changed_since, message_ids=message_ids
        )
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
    return {
        uid: frozenset(n for n in names if message_ids.get(uid, "") in holders[n])
        for uid in uids
        if uid in present
    }


class CorrectionWatcher:
    """What the daemon calls after each catch-up of a folder: notice and record label changes.

    With CONDSTORE only the messages changed since the last check are read (and nothing at all
    when the folder's HIGHESTMODSEQ has not moved); otherwise the labels of every message
    triage handled in the last `watch_days` are read, which is one small FETCH of flags.
    """

    def __init__(
        self,
        store: CorrectionStore | Path,
        account: str,
        *,
        watch_days: int = 30,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_recorded: Callable[[CorrectionStore], object] | None = None,
    ) -> None:
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

    def labels_to_reapply(
        self, folder: str, message_key: str, recorded: Sequence[str], names: LabelSet
    ) -> tuple[str, ...]:
        """The labels to put back on a message met again (after a UIDVALIDITY change): the
        ones recorded for it, except that the user's own choice replaces triage's."""
        with self._opened() as store:
            user = store.user_labels(self.account, folder, message_key)
        if user is None:
            return tuple(recorded)
        relevant = triage_labels(names)
        return tuple(label for label in recorded if label not in relevant) + tuple(sorted(user))

    def check(
        self,
        mailbox: Any,
        folder: str,
        names: LabelSet,
        uidvalidity: int,
        highestmodseq: int | None,
    ) -> list[Change]:
        """Read the labels, record what changed, return the changes."""
        with self._opened() as store:
            return self._check(store, mailbox, folder, names, uidvalidity, highestmodseq)

    def _check(
        self,
        store: CorrectionStore,
        mailbox: Any,
        folder: str,
        names: LabelSet,
        uidvalidity: int,
        highestmodseq: int | None,
    ) -> list[Change]:
        now = self.now()
        sync = store.sync_point(self.account, folder)
        changed_since = None
        if (
            sync is not None
            and sync[0] == uidvalidity
            and sync[1] is not None
            and highestmodseq is not None
            and mailbox.label_style != "folders"
        ):
            if highestmodseq <= sync[1]:
                return []  # nothing at all changed in the folder since the last check
            changed_since = sync[1]
        watched = store.watched(
            self.account,
            folder,
            uidvalidity,
            since=now - timedelta(days=self.watch_days),
            names=names,
        )
        changes: list[Change] = []
        if watched:
            by_uid = {w.uid: w for w in watched}
            relevant = sorted(triage_labels(names))
            current = read_labels(
                mailbox,
                folder,
                sorted(by_uid),
                relevant,
                changed_since=changed_since,
                message_ids={w.uid: w.message_id for w in watched},
            )
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
                log.info(
                    "%s/%s: UID %d %s: %s -> %s (%s)",
                    self.account,
                    folder,
                    w.uid,
                    "reviewed" if change.kind == "confirmation" else "corrected",
                    change.old_label,
                    change.new_label,
                    w.message_id or w.message_key,
                )
        if added and self.on_recorded is not None:
            try:
                self.on_recorded(store)
            except Exception as exc:  # noqa: BLE001 - never let it stop the daemon
                log.error("%s: after recording corrections: %s", self.account, exc)
        return changes
