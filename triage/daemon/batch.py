"""The daemon: catch up, label, draft, checkpoint, IDLE, reconnect; exactly once.

Two layers:

- `FolderProcessor` (and the convenience `process_folder`) handles one folder of one mailbox
  through the `Mailbox` protocol, so it works the same on IMAP and on a Maildir (`triage
  demo`): find what is new, fetch it in batches, classify, apply labels and drafts, checkpoint.
- `Daemon` runs a worker thread per account and watched folder: connect, catch up, IDLE (or
  poll), reconnect with capped exponential backoff and jitter, stop an account on an
  authentication failure, and stop everything cleanly on SIGTERM/SIGINT.

Exactly once. Every effect is recorded in the ledger (`triage.state`) *before* it is made, and
every effect can be repeated safely, so a `kill -9` anywhere leaves a state the next run
completes without doing anything twice:

1. Rows for the batch are written with status `pending`: the decision, the labels to apply and,
   if the message gets a feedback draft, the draft's Message-ID, which is derived from the
   original's Message-ID and so the same on every run (`triage.replies.draft_message_id`). The
   daily cap, the per-sender cooldown and "one draft per original" are decided in that same
   write transaction.
2. Labels are applied. A keyword or Gmail label is idempotent by nature; a folder copy is made
   only when the label folder does not hold that Message-ID yet.
3. Drafts are appended to Drafts, each recorded as written right after its APPEND; then the
   original gets the drafted label. A `pending` row found on restart whose draft is not
   recorded as written is first looked up in Drafts by its Message-ID, and only appended if
   absent. A draft recorded as written is never written again, even if the user deleted it.
4. Rows become `done` and the folder checkpoint (last UID) moves, in one transaction.

A message that cannot be parsed or handled is recorded as `error` and skipped. A changed
UIDVALIDITY re-scans the folder and matches messages already handled by Message-ID (or, without
one, a digest of the header): they are recorded as `duplicate`, are not classified again and
never get a second draft; only the labels recorded for them are applied again, which changes
nothing where they survived (a keyword is set once, a folder copy is not made twice) and
restores them where the folder was rebuilt without them.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import logging
import os
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from triage.batching import chunks
from triage.classifier import Classifier
from triage.config import Account, Config, DraftsConfig, LabelNames, LabelSet
from triage.corrections import CorrectionWatcher
from triage.errors import (
    AuthenticationError,
    ConfigError,
    ConnectionLostError,
    CredentialError,
    MailboxError,
    ModelError,
    StateError,
    TriageError,
)
from triage.mailbox import FetchedMessage, FolderStatus, HeaderSearch, Mailbox, Watchable
from triage.message import Message, parse_message
from triage.message_ids import message_id_in
from triage.policy import Decision, SenderContext
from triage.state import FolderCheckpoint, Intent, LedgerRow, State

if TYPE_CHECKING:
    from triage.personal import Personal

log = logging.getLogger(__name__)

BATCH_SIZE = 100             # messages fetched, classified and checkpointed together
SENT_BATCH = 2_000           # Sent messages whose recipients are read per FETCH
SENT_RESYNC_SECONDS = 900.0  # re-read new Sent mail at least this often while running
HEARTBEAT_SECONDS = 30.0     # how often a waiting worker tells `triage status` it is alive
MAX_IDLE_SECONDS = 600.0     # IDLE is re-issued at least this often, whatever the config says
PROGRESS_LOG_SECONDS = 10.0  # periodic progress lines when stderr is not a terminal
PROGRESS_MIN_MESSAGES = 50   # smaller catch-ups need no progress display
DRAFT_FLAGS = ("\\Draft", "\\Seen")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


# --------------------------------------------------------------------------- parts passed in


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Sleep, waking early when `stop` is set; True if it was."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(seconds, 0.0))


SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: attempt n waits a random time in
    [delay/2, delay] where delay = min(cap, base * 2**n)."""

    base: float = 1.0
    cap: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(attempt, 30)))
        return ceiling / 2 + self.rng.random() * ceiling / 2


Compose = Callable[..., Any]  # replies.build_draft-compatible


def _default_compose() -> Compose | None:
    try:
        from triage.replies import build_draft
    except ImportError:  # pragma: no cover - replies ships with triage
        return None
    return build_draft


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Options:
    """How one account's folders are processed."""

    account: str
    labels: LabelNames | LabelSet = field(default_factory=LabelNames)  # a LabelSet: as is
    drafts: DraftsConfig = field(default_factory=DraftsConfig)
    user_address: str = ""                     # From of the drafts
    user_addresses: frozenset[str] = frozenset()  # all of the user's own addresses
    backfill_days: int | None = 30             # None: the whole folder on the first run
    since: date | None = None                  # --since: overrides backfill_days
    dry_run: bool = False
    batch_size: int = BATCH_SIZE
    templates_dir: Path | None = None          # the user's draft wording overrides
    drafts_folder: str = ""                    # "" = the mailbox's special-use Drafts
    shadow: bool = False                       # mode = "shadow": the review label, no drafts


@dataclass(frozen=True)
class Outcome:
    """What happened to one message (or would have, in a dry run)."""

    account: str
    folder: str
    uid: int
    status: str                    # "labelled", "dry-run", "duplicate", "error"
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    decision: Decision | None = None
    message: Message | None = None  # when it was parsed in this process
    labels: tuple[str, ...] = ()    # label names applied (or that would be)
    draft_message_id: str = ""      # the draft written for it
    note: str = ""                  # why no draft, what it duplicates
    error: str = ""


@dataclass
class FolderReport:
    account: str
    folder: str
    uidvalidity: int = 0
    candidates: int = 0
    processed: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    errors: int = 0
    drafts: int = 0
    uidvalidity_changed: bool = False
    complete: bool = False
    seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{n} {label}" for label, n in sorted(self.by_label.items())]
        if self.drafts:
            parts.append(f"{self.drafts} draft{'s' if self.drafts != 1 else ''}")
        if self.duplicates:
            parts.append(f"{self.duplicates} already handled")
        if self.errors:
            parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        return ", ".join(parts) or "nothing new"


@dataclass
class _Item:
    """One message moving through a batch."""

    fetched: FetchedMessage
    key: str = ""
    message: Message | None = None
    decision: Decision | None = None
    row: LedgerRow | None = None        # the pending row of an earlier, interrupted run
    labels: tuple[str, ...] = ()
    draft_id: str = ""
    draft_planned: bool = False
    capped: Intent | None = None        # refused a draft by the daily cap alone
    note: str = ""
    status: str = "pending"
    error: str = ""
    draft_written: bool = False
    recorded: bool = False              # settled in the ledger when the intents were written
    duplicate: bool = False             # handled before under another UIDVALIDITY
    summary: tuple[str, str, str] = ("", "", "")  # Message-ID, sender address, subject


# --------------------------------------------------------------------------- small helpers


def header_bytes(raw: bytes) -> bytes:
    match = _HEADER_END.search(raw)
    return raw[: match.end()] if match else raw


def message_key(raw: bytes, message_id: str) -> str:
    """What identifies a message across UIDVALIDITY changes and folders: its Message-ID, or
    a digest of its header block when it has none (a re-uploaded copy has the same header)."""
    if message_id:
        return message_id
    return "sha256:" + hashlib.sha256(header_bytes(raw)).hexdigest()[:40]


@dataclass(frozen=True)
class Classified:
    """One message parsed and classified."""

    message_id: str
    sender: str
    subject: str
    decision: Decision | None
    draft_id: str = ""                 # when the decision wants a draft
    error: str = ""
    message: Message | None = None     # only when classified in this process


ContextsFor = Callable[[Sequence[str]], Sequence[SenderContext]]


def no_context(senders: Sequence[str]) -> list[SenderContext]:
    return [SenderContext() for _ in senders]


def classify_raw(classifier: Classifier, raws: Sequence[bytes], contexts_for: ContextsFor,
                 user_address: str) -> list[Classified]:
    """parse_message + Classifier.classify for a batch; a bad message only fails itself.

    `contexts_for` gets the sender addresses of the parsed messages and returns what is known
    about each (written to, own address, recently drafted)."""
    from triage.replies import draft_message_id_for

    messages: list[Message | None] = []
    errors: list[str] = []
    for raw in raws:
        try:
            messages.append(parse_message(raw))
            errors.append("")
        except Exception as exc:  # noqa: BLE001 - MessageParseError, or a parser bug
            messages.append(None)
            errors.append(f"cannot parse: {_one_line(exc)}")
    ok = [i for i, m in enumerate(messages) if m is not None]
    senders = [m.sender.addr if m is not None and m.sender else "" for m in messages]
    contexts = list(contexts_for(senders))
    decisions: dict[int, Decision | None] = {}
    try:
        batch = classifier.classify([messages[i] for i in ok],  # type: ignore[misc]
                                    [contexts[i] for i in ok])
        decisions = dict(zip(ok, batch, strict=True))
    except Exception as batch_error:  # noqa: BLE001 - find the message that breaks the model
        log.warning("classifying a batch failed (%s); retrying one by one",
                    _one_line(batch_error))
        for i in ok:
            try:
                decisions[i] = classifier.classify([messages[i]], [contexts[i]])[0]  # type: ignore[list-item]
            except Exception as exc:  # noqa: BLE001
                decisions[i] = None
                errors[i] = f"the classifier failed on this message: {_one_line(exc)}"
        if ok and all(decisions[i] is None for i in ok):
            # Not one bad message: the model itself is broken. Record nothing (so nothing is
            # skipped for good); the caller stops or retries later.
            raise ModelError(f"the classifier fails on every message: "
                             f"{_one_line(batch_error)}") from None
    results = []
    for i, message in enumerate(messages):
        decision = decisions.get(i)
        draft_id = ""
        if message is not None and decision is not None and decision.draft:
            draft_id = draft_message_id_for(message, user_address)
        results.append(Classified(
            message_id=message.message_id if message else "",
            sender=message.sender.addr if message and message.sender else "",
            subject=message.subject if message else "",
            decision=decision, draft_id=draft_id, error=errors[i], message=message))
    return results


def user_addresses(account: Account, drafts: DraftsConfig) -> tuple[str, frozenset[str]]:
    """The draft From address and every address that is the user's own."""
    own = [a.lower() for a in drafts.addresses]
    if "@" in account.username:
        own.append(account.username.lower())
    first = own[0] if own else ""
    return first, frozenset(own)


def _decision_from_row(row: LedgerRow, *, draft: bool = True) -> Decision:
    """The decision recorded in the ledger (enough to finish its effects or write its draft)."""
    label = row.label if row.label in ("relationship", "solicitation", "other") else "other"
    confidence = row.confidence or 0.0
    return Decision(label=label, confidence=confidence,  # type: ignore[arg-type]
                    scores={label: confidence}, offenses=row.offenses, draft=draft,
                    reasons=(), model_version=row.model_version)


def release_memory() -> None:
    """Hand memory freed after a big catch-up back to the system (glibc keeps it otherwise),
    so the daemon idles small."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:500]


class Progress:
    """A progress bar on a terminal, periodic log lines otherwise."""

    def __init__(self, what: str, total: int, *, stream: TextIO | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.what = what
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.started = clock.monotonic()
        self.last = self.started

    def update(self, n: int) -> None:
        self.done += n
        now = self.clock.monotonic()
        rate = self.done / max(now - self.started, 1e-6)
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            self.stream.write(f"\r{self.what} [{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} {rate:,.0f} msg/s ")
            self.stream.flush()
        elif now - self.last >= PROGRESS_LOG_SECONDS:
            self.last = now
            log.info("%s: %d/%d messages (%.0f/s)", self.what, self.done, self.total, rate)

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------- one folder


class FolderProcessor:
    """Brings one mailbox's folders up to date. Backend-agnostic; one per thread.

    Parts are passed in: the mailbox, the state (a `State` owned by the calling thread), the
    classifier, a clock, the draft composer (`triage.replies.build_draft` by default), a
    `should_stop` callable checked between batches and between drafts, and `on_outcome`,
    called for every message handled.
    """

    def __init__(
        self,
        mailbox: Mailbox,
        state: State,
        classifier: Classifier,
        options: Options,
        *,
        clock: Clock = SYSTEM_CLOCK,
        compose: Compose | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_outcome: Callable[[Outcome], None] | None = None,
        progress: bool = True,
        classify_lock: threading.Lock | None = None,
        fingerprints: set[str] | None = None,
        fingerprints_lock: threading.Lock | None = None,
        corrections: CorrectionWatcher | None = None,
    ) -> None:
        self.mailbox = mailbox
        self.corrections = corrections  # notices the user's label changes (triage.corrections)
        self.state = state
        self.classifier = classifier
        self.options = options
        self.clock = clock
        self.compose = compose if compose is not None else _default_compose()
        self.should_stop = should_stop
        self.on_outcome = on_outcome
        self.progress = progress
        self._classify_lock = classify_lock or threading.Lock()
        self._fingerprints = fingerprints if fingerprints is not None else set()
        self._fingerprints_lock = fingerprints_lock or threading.Lock()
        self._label_set: LabelSet | None = None
        self._drafts_folder: str | None = None
        self._dry_checkpoints: dict[str, int] = {}
        self._dry_contacts: Counter[str] | None = None

    @property
    def account(self) -> str:
        return self.options.account

    @property
    def label_set(self) -> LabelSet:
        if self._label_set is None:
            labels = self.options.labels
            self._label_set = labels if isinstance(labels, LabelSet) else \
                labels.for_style(self.mailbox.label_style)
        return self._label_set

    def drafts_folder(self) -> str:
        if self._drafts_folder is None:
            folder = self.options.drafts_folder or self.mailbox.special_folders().drafts
            if not folder:
                log.warning("account %s: no Drafts folder found (no \\Drafts special-use "
                            "folder and none of the usual names); no feedback drafts",
                            self.account)
            self._drafts_folder = folder
        return self._drafts_folder

    # -- who the user writes to

    def sync_sent(self) -> int:
        """Count the recipients of new mail in the Sent folder; returns messages read.

        A dry run reads the whole folder into memory instead (it writes no state), so its
        decisions are the ones a real run would make."""
        folder = self.mailbox.special_folders().sent
        if not folder:
            log.info("account %s: no Sent folder found; no sender history", self.account)
            return 0
        status = self.mailbox.open_folder(folder)
        if self.options.dry_run:
            uids = self.mailbox.search(folder)
            self._dry_contacts = Counter()
            for chunk in chunks(uids, SENT_BATCH):
                for header in self._recipient_headers(folder, chunk):
                    self._dry_contacts.update(_recipients(header, self.options.user_addresses))
            return len(uids)
        known = self.state.sent_checkpoint(self.account)
        reset = known is None or known[0] != folder or known[1] != status.uidvalidity
        last_uid = 0 if reset else known[2] if known else 0
        uids = self.mailbox.search(folder, min_uid=last_uid + 1)
        if reset and known is not None:
            log.info("account %s: Sent folder %s changed (UIDVALIDITY); re-reading it",
                     self.account, folder)
        counts: Counter[str] = Counter()
        for chunk in chunks(uids, SENT_BATCH):
            for header in self._recipient_headers(folder, chunk):
                counts.update(_recipients(header, self.options.user_addresses))
        newest = max(last_uid, status.uidnext - 1, max(uids, default=0))
        self.state.add_contacts(self.account, folder, status.uidvalidity, newest, counts,
                                reset=reset, now=self.clock.now())
        if uids:
            log.info("account %s: read %d sent messages (%d addresses)", self.account,
                     len(uids), len(counts))
        return len(uids)

    def _recipient_headers(self, folder: str, uids: Sequence[int]) -> list[bytes]:
        if isinstance(self.mailbox, HeaderSearch):
            return list(self.mailbox.fetch_headers(folder, uids, ("To", "Cc", "Bcc")).values())
        return [header_bytes(m.raw) for m in self.mailbox.fetch(folder, uids)]

    # -- the catch-up

    def process(self, folder: str) -> FolderReport:
        """Handle everything new in `folder` (and the backfill on the first run)."""
        started = self.clock.monotonic()
        report = FolderReport(self.account, folder)
        status = self.mailbox.open_folder(folder)
        report.uidvalidity = status.uidvalidity
        checkpoint, since_extra = self._checkpoint(folder, status, report)
        uids = self._candidates(folder, checkpoint, since_extra)
        report.candidates = len(uids)
        bar = None
        if self.progress and len(uids) >= PROGRESS_MIN_MESSAGES:
            bar = Progress(f"{self.account}/{folder}", len(uids), clock=self.clock)
        complete = True
        try:
            for start in range(0, len(uids), self.options.batch_size):
                if self.should_stop():
                    complete = False
                    break
                chunk = uids[start:start + self.options.batch_size]
                if not self._batch(folder, status.uidvalidity, chunk, report):
                    complete = False
                    break
                if bar:
                    bar.update(len(chunk))
        finally:
            if bar:
                bar.finish()
        if complete:
            # Everything below UIDNEXT at SELECT time has been seen (or was outside the
            # backfill window): the checkpoint can move there.
            end = max(status.uidnext - 1, max(uids, default=0))
            if self.options.dry_run:
                self._dry_checkpoints[folder] = end
            else:
                self.state.advance(self.account, folder, status.uidvalidity, end,
                                   status.highestmodseq, self.clock.now())
        report.complete = complete
        report.seconds = self.clock.monotonic() - started  # the catch-up itself
        if complete:
            checking = self.clock.monotonic()
            self._check_corrections(folder, status)
            log.debug("%s/%s: label changes checked in %.2f s", self.account, folder,
                      self.clock.monotonic() - checking)
        if len(uids) > self.options.batch_size:
            release_memory()
        if report.processed or report.errors or report.duplicates:
            rate = report.processed / report.seconds if report.seconds > 0 else 0.0
            log.info("%s/%s: %d message%s in %.2f s (%.0f/s): %s", self.account, folder,
                     report.processed, "" if report.processed == 1 else "s", report.seconds,
                     rate, report.summary())
        return report

    def _check_corrections(self, folder: str, status: FolderStatus) -> None:
        """Record the labels the user changed since the last look (see triage.corrections).
        A failure here only postpones that to the next catch-up."""
        if self.corrections is None or self.options.dry_run:
            return
        try:
            self.corrections.check(self.mailbox, folder, self.label_set, status.uidvalidity,
                                   status.highestmodseq)
        except ConnectionLostError:
            raise
        except (MailboxError, StateError) as exc:
            log.warning("%s/%s: label changes not checked: %s", self.account, folder,
                        _one_line(exc))

    def _checkpoint(self, folder: str, status: FolderStatus,
                    report: FolderReport) -> tuple[FolderCheckpoint, date | None]:
        """The folder's checkpoint, created on the first run and reset on a new UIDVALIDITY.
        Also returns the date of an explicit --since for a folder that was seen before."""
        now = self.clock.now()
        known = self.state.folder(self.account, folder)
        if self.options.dry_run and folder in self._dry_checkpoints and known is not None:
            known = replace(known, last_uid=max(known.last_uid, self._dry_checkpoints[folder]))
        if known is not None and known.uidvalidity == status.uidvalidity:
            return known, self.options.since
        if known is None:
            since = self.options.since
            if since is None and self.options.backfill_days is not None:
                since = (now.astimezone() - timedelta(days=self.options.backfill_days)).date()
            nothing_old = self.options.since is None and self.options.backfill_days == 0
            last_uid = status.uidnext - 1 if nothing_old else 0
            end_uid = 0 if nothing_old else status.uidnext - 1
            log.info("%s/%s: first run; %s", self.account, folder,
                     "only new mail from now on" if nothing_old else
                     f"backfilling mail received since {since}" if since else
                     "processing the whole folder")
        else:
            report.uidvalidity_changed = True
            # Re-scan with the original window (or from when triage first saw the folder);
            # messages handled before are recognised by their Message-ID.
            since = known.backfill_since or known.created_at.astimezone().date()
            last_uid, end_uid = 0, status.uidnext - 1
            log.warning("%s/%s: UIDVALIDITY changed (%d -> %d); re-scanning the folder and "
                        "matching messages already handled by Message-ID", self.account,
                        folder, known.uidvalidity, status.uidvalidity)
        if self.options.dry_run:
            checkpoint = FolderCheckpoint(self.account, folder, status.uidvalidity, last_uid,
                                          status.highestmodseq, since, end_uid, now)
        else:
            checkpoint = self.state.start_folder(
                self.account, folder, uidvalidity=status.uidvalidity, last_uid=last_uid,
                backfill_since=since, backfill_end_uid=end_uid,
                highestmodseq=status.highestmodseq, now=now)
        return checkpoint, None

    def _candidates(self, folder: str, cp: FolderCheckpoint,
                    since_extra: date | None) -> list[int]:
        """UIDs still to look at, ascending."""
        if cp.last_uid < cp.backfill_end_uid:
            old = [u for u in self.mailbox.search(folder, min_uid=cp.last_uid + 1,
                                                  since=cp.backfill_since)
                   if u <= cp.backfill_end_uid]
            new = self.mailbox.search(folder, min_uid=cp.backfill_end_uid + 1)
            uids = old + new
        else:
            uids = self.mailbox.search(folder, min_uid=cp.last_uid + 1)
        if since_extra is not None and cp.last_uid > 0:
            # --since on a folder seen before: also older mail from that date that was never
            # handled (it was outside the first backfill window).
            earlier = [u for u in self.mailbox.search(folder, min_uid=1, since=since_extra)
                       if u <= cp.last_uid]
            if earlier:
                known = self.state.known_uids(self.account, folder, cp.uidvalidity, cp.last_uid)
                uids = [u for u in earlier if u not in known] + uids
        return uids

    # -- one batch

    def _batch(self, folder: str, uidvalidity: int, chunk: list[int],
               report: FolderReport) -> bool:
        """Handle one batch; False when stopped before its end (the rest stays pending)."""
        rows = self.state.ledger(self.account, folder, uidvalidity, chunk)
        todo = [u for u in chunk if u not in rows or not rows[u].settled]
        fetched = self.mailbox.fetch(folder, todo) if todo else []
        items = [_Item(f, row=rows.get(f.uid)) for f in fetched]
        fresh = [item for item in items if item.row is None]
        self._understand(folder, uidvalidity, fresh)
        for item in items:
            if item.row is not None:
                self._resume(item)

        if self.options.dry_run:
            for item in items:
                shown = item.status if item.status in ("duplicate", "error") else "dry-run"
                self._emit(folder, item, shown)
                self._count(report, item)
                if shown == "dry-run" and item.decision is not None and item.decision.draft:
                    report.drafts += 1  # the draft this run would write
            return True

        if fresh:
            self._record(folder, uidvalidity, fresh)
        stopped = self._apply(folder, uidvalidity, items)
        settled = {u for u in chunk if u in rows and rows[u].settled}
        settled |= {u for u in todo if u not in {i.fetched.uid for i in items}}  # vanished
        results = []
        for item in items:
            if item.recorded:
                settled.add(item.fetched.uid)  # written as done/duplicate/error in _record
                self._emit(folder, item, "labelled" if item.status == "done" else item.status)
                self._count(report, item)
                continue
            if item.status == "pending":
                continue  # interrupted before its draft: stays pending for the next run
            if item.duplicate and item.status == "done":
                item.status = "duplicate"
            results.append((item.fetched.uid, item.status, item.error))
            settled.add(item.fetched.uid)
            self._emit(folder, item, "labelled" if item.status == "done" else item.status)
            self._count(report, item)
        checkpoint = None
        for uid in chunk:  # the highest UID with everything up to it settled
            if uid not in settled:
                break
            checkpoint = uid
        self.state.settle(self.account, folder, uidvalidity, results,
                          checkpoint_uid=checkpoint, highestmodseq=None, now=self.clock.now())
        return not stopped

    def _understand(self, folder: str, uidvalidity: int, items: list[_Item]) -> None:
        """Recognise messages handled before, classify the rest, plan their labels."""
        for item in items:
            item.key = message_key(item.fetched.raw, message_id_in(item.fetched.raw))

        seen = self.state.seen_before(self.account, folder, uidvalidity,
                                      [i.key for i in items])
        for item in items:
            before = seen.get(item.key)
            if before is None:
                continue
            item.duplicate = True
            item.note = (f"handled before as UID {before.uid} (UIDVALIDITY "
                         f"{before.uidvalidity})")
            item.labels = before.labels
            if self.corrections is not None:  # what the user changed stays changed
                item.labels = self.corrections.labels_to_reapply(folder, item.key, item.labels,
                                                                 self.label_set)
            if before.draft_written:
                item.labels = (*item.labels, self.label_set.drafted)
            if before.label:
                item.decision = _decision_from_row(before, draft=False)
            item.summary = (before.message_id, before.sender, "")
            if not item.labels:
                item.status = "duplicate"

        todo = [i for i in items if not i.duplicate]
        if todo:
            self._classify(todo)
        labels = self.label_set
        for item in todo:
            decision = item.decision
            if decision is None:
                continue
            name = labels.for_class(decision.label)
            if name and self.options.shadow:
                name = labels.review  # one label for the user to review, not the class
            item.labels = (name,) if name else ()
            if decision.draft and self.options.drafts.enabled and not self.options.shadow:
                if self.drafts_folder() and self.compose is not None and item.draft_id:
                    pass
                else:
                    item.draft_id = ""
                    item.note = "no Drafts folder" if not self.drafts_folder() else \
                        "drafts are not available"
            else:
                item.draft_id = ""
                if decision.draft:
                    item.note = "shadow mode: a draft would be written" if \
                        self.options.shadow else "drafts are turned off"
                elif decision.no_draft_because:
                    item.note = decision.no_draft_because
            if not item.labels and not item.draft_id:
                item.status = "done"

    def _classify(self, items: list[_Item]) -> None:
        """Parse and classify, with what the state knows about each sender."""
        raws = [i.fetched.raw for i in items]
        with self._classify_lock:
            results = classify_raw(self.classifier, raws, self._contexts,
                                   self.options.user_address)
        for item, result in zip(items, results, strict=True):
            item.message = result.message
            item.decision = result.decision
            item.draft_id = result.draft_id
            item.summary = (result.message_id, result.sender, result.subject)
            if result.error:
                item.status, item.error = "error", result.error

    def _contexts(self, senders: Sequence[str]) -> list[SenderContext]:
        written = self.state.times_written_to(senders)
        if self._dry_contacts is not None:
            written = {s: self._dry_contacts[s] for s in senders if self._dry_contacts[s]}
        recent = self.state.recently_drafted(senders, self.options.drafts.cooldown_days,
                                             self.clock.now())
        own = self.options.user_addresses
        return [SenderContext(times_written_to=written.get(s, 0), is_user=s in own,
                              recently_drafted=s in recent) for s in senders]

    def _resume(self, item: _Item) -> None:
        """A message whose row was left pending by an interrupted run: finish its effects
        with the decision recorded then (the model may have changed since)."""
        row = item.row
        assert row is not None
        item.key = row.message_key
        item.summary = (row.message_id, row.sender, "")
        item.labels = row.labels
        item.draft_id = row.draft_message_id
        item.draft_planned = bool(row.draft_message_id)
        item.draft_written = row.draft_written
        item.note = row.note
        item.decision = _decision_from_row(row) if row.label else None
        try:
            item.message = parse_message(item.fetched.raw)
        except Exception as exc:  # noqa: BLE001
            item.message = None
            if item.draft_planned and not item.draft_written:
                item.status, item.error = "error", f"cannot parse: {_one_line(exc)}"
        log.info("%s: finishing UID %d, interrupted by an earlier stop", self.account,
                 item.fetched.uid)

    def _record(self, folder: str, uidvalidity: int, items: list[_Item]) -> None:
        intents = []
        for item in items:
            decision = item.decision
            message_id, sender, subject = item.summary
            intents.append(Intent(
                uid=item.fetched.uid,
                message_key=item.key,
                message_id=message_id,
                sender=sender,
                subject=subject,
                label=decision.label if decision else None,
                confidence=decision.confidence if decision else None,
                offenses=decision.offenses if decision else (),
                model_version=decision.model_version if decision else "",
                labels=item.labels,
                want_draft=bool(item.draft_id) and item.status == "pending",
                draft_message_id=item.draft_id,
                note=item.note,
                status=item.status,
                error=item.error,
            ))
        for item, intent in zip(items, intents, strict=True):
            item.recorded = intent.status != "pending"
        drafts = self.options.drafts
        plans = self.state.record_intents(
            self.account, folder, uidvalidity, intents,
            drafts_folder=self.drafts_folder(), daily_cap=drafts.daily_cap,
            cooldown_days=drafts.cooldown_days, now=self.clock.now())
        for item, intent in zip(items, intents, strict=True):
            plan = plans.get(item.fetched.uid)
            if plan is None:
                continue
            item.draft_planned = plan.planned
            if plan.capped:
                item.capped = intent
            if not plan.planned:
                item.draft_id = ""
                item.note = plan.note
                if not item.labels:
                    item.status = "done"

    def _apply(self, folder: str, uidvalidity: int, items: list[_Item]) -> bool:
        """Labels for the whole batch, then drafts one by one. True if stopped midway."""
        groups: dict[str, list[_Item]] = {}
        for item in items:
            if item.status == "pending":
                for name in item.labels:
                    groups.setdefault(name, []).append(item)
        for name, members in groups.items():
            try:
                self.mailbox.add_label(folder, [i.fetched.uid for i in members], name)
            except ConnectionLostError:
                raise
            except MailboxError as exc:
                # A label the server will not take fails for every message alike.
                log.error("%s/%s: cannot apply label %s: %s", self.account, folder, name,
                          _one_line(exc))
                for item in members:
                    item.status, item.error = "error", f"label {name}: {_one_line(exc)}"
        stopped = False
        failed_drafts = 0
        for item in items:
            if item.status != "pending":
                continue
            if item.capped is not None and failed_drafts:
                self._plan_capped(folder, uidvalidity, item)
            if item.draft_planned:
                if self.should_stop():
                    stopped = True
                    continue  # stays pending; the next run writes the draft
                self._draft(folder, uidvalidity, item)
                failed_drafts += not item.draft_written
            if item.status == "pending":
                item.status = "done"
        return stopped

    def _plan_capped(self, folder: str, uidvalidity: int, item: _Item) -> None:
        """A failed draft does not use up a place under the daily cap: offer it to the next
        message the cap turned away."""
        assert item.capped is not None
        drafts = self.options.drafts
        plan = self.state.plan_capped_draft(
            self.account, folder, uidvalidity, item.capped, drafts_folder=self.drafts_folder(),
            daily_cap=drafts.daily_cap, cooldown_days=drafts.cooldown_days, now=self.clock.now())
        if plan.planned:
            item.draft_id, item.draft_planned, item.note = item.capped.draft_message_id, True, ""

    def _draft(self, folder: str, uidvalidity: int, item: _Item) -> None:
        """Write the planned draft once, then give the original the drafted label."""
        drafts_folder = self.drafts_folder()
        # Interrupted after the APPEND but before recording it? Then it is there.
        if (not item.draft_written and item.row is not None
                and self._in_folder(drafts_folder, item.draft_id)):
            log.info("%s: draft %s was already written", self.account, item.draft_id)
            self.state.draft_written(self.account, folder, uidvalidity, item.fetched.uid,
                                     item.draft_id, self.clock.now())
            item.draft_written = True
        if not item.draft_written and item.message is None:
            try:  # recovered from the ledger: parse it again for the letter
                item.message = parse_message(item.fetched.raw)
            except Exception:  # noqa: BLE001
                item.message = None
        if not item.draft_written:
            if item.message is None or item.decision is None or self.compose is None:
                item.error = "the draft could not be composed"
                self.state.draft_failed(item.draft_id)
                return
            try:
                with self._fingerprints_lock:
                    avoid = set(self._fingerprints)
                draft = self.compose(item.message, item.decision, self.options.drafts,
                                     self.options.user_address,
                                     templates_dir=self.options.templates_dir,
                                     now=self.clock.now().astimezone(), avoid=avoid)
                raw = draft.raw
                if draft.message_id != item.draft_id:  # pragma: no cover - same function
                    raw = _set_message_id(raw, item.draft_id)
                self.mailbox.append(drafts_folder, raw, DRAFT_FLAGS)
            except ConnectionLostError:
                raise
            except TriageError as exc:
                log.warning("%s/%s: no draft for UID %d: %s", self.account, folder,
                            item.fetched.uid, _one_line(exc))
                item.note = f"draft failed: {_one_line(exc)}"
                item.error = item.note
                self.state.draft_failed(item.draft_id)
                return
            with self._fingerprints_lock:
                self._fingerprints.add(draft.letter.fingerprint)
            self.state.draft_written(self.account, folder, uidvalidity, item.fetched.uid,
                                     item.draft_id, self.clock.now())
            item.draft_written = True
            log.info("%s/%s: feedback draft for UID %d written to %s", self.account, folder,
                     item.fetched.uid, drafts_folder)
        self.mailbox.add_label(folder, [item.fetched.uid], self.label_set.drafted)
        item.labels = (*item.labels, self.label_set.drafted)

    def _in_folder(self, folder: str, message_id: str) -> bool:
        if isinstance(self.mailbox, HeaderSearch):
            return bool(self.mailbox.find_message_id(folder, message_id))
        # Any backend: read the headers of the whole folder (only on recovery).
        self.mailbox.open_folder(folder)
        uids = self.mailbox.search(folder)
        for chunk in chunks(uids, 500):
            for fetched in self.mailbox.fetch(folder, chunk):
                header = header_bytes(fetched.raw)
                if message_id.encode("utf-8", "replace") in header:
                    return True
        return False

    # -- reporting

    def _emit(self, folder: str, item: _Item, status: str) -> None:
        if self.on_outcome is None:
            return
        message_id, sender, subject = item.summary
        self.on_outcome(Outcome(
            account=self.account, folder=folder, uid=item.fetched.uid, status=status,
            message_id=message_id, sender=sender, subject=subject,
            decision=item.decision, message=item.message, labels=item.labels,
            draft_message_id=item.draft_id if item.draft_written else "",
            note=item.note, error=item.error,
        ))

    @staticmethod
    def _count(report: FolderReport, item: _Item) -> None:
        if item.status == "duplicate":
            report.duplicates += 1
            return
        if item.status == "error" and item.decision is None:
            report.errors += 1
            return
        report.processed += 1
        if item.error:
            report.errors += 1
        if item.decision is not None:
            report.by_label[item.decision.label] += 1
        if item.draft_written:
            report.drafts += 1


def _recipients(header: bytes, own: frozenset[str]) -> set[str]:
    parsed = BytesHeaderParser(policy=compat32).parsebytes(header)
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in parsed.get_all(name, [])]
    found = {addr.strip().lower() for _name, addr in getaddresses(values) if "@" in addr}
    return found - own


def _set_message_id(raw: bytes, message_id: str) -> bytes:
    head = header_bytes(raw)
    body = raw[len(head):]
    lines = re.sub(rb"(?im)^message-id:.*(?:\r?\n[ \t].*)*\r?\n", b"", head)
    return f"Message-ID: {message_id}\r\n".encode() + lines + body


def process_folder(
    mailbox: Mailbox,
    folder: str,
    classifier: Classifier,
    state: State | Path,
    *,
    account: str = "local",
    labels: LabelNames | LabelSet | None = None,
    drafts: DraftsConfig | None = None,
    user_address: str = "",
    backfill_days: int | None = None,
    since: date | None = None,
    dry_run: bool = False,
    templates_dir: Path | None = None,
    clock: Clock = SYSTEM_CLOCK,
    on_outcome: Callable[[Outcome], None] | None = None,
    keep_outcomes: bool = True,
) -> FolderReport:
    """Catch up one folder once, with any `Mailbox` backend (the demo's entry point).

    `state` is a `State` or a state directory (opened and closed here). The first run takes the
    whole folder unless `backfill_days` or `since` limits it; later runs take what is new. The
    report lists every message's `Outcome` when `keep_outcomes` is true.
    """
    drafts = drafts or DraftsConfig()
    own = {a.lower() for a in drafts.addresses}
    if user_address:
        own.add(user_address.lower())
    options = Options(account=account, labels=labels or LabelNames(), drafts=drafts,
                      user_address=user_address or (drafts.addresses[0] if drafts.addresses
                                                    else ""),
                      user_addresses=frozenset(own), backfill_days=backfill_days, since=since,
                      dry_run=dry_run, templates_dir=templates_dir)
    outcomes: list[Outcome] = []

    def collect(outcome: Outcome) -> None:
        if keep_outcomes:
            outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    if isinstance(state, Path):
        if dry_run:  # read where the last real run stopped; write nothing
            try:
                opened: State = State.open(state, readonly=True)
            except StateError:
                opened = _NullState()  # type: ignore[assignment]
        else:
            opened = State.open(state)
    else:
        opened = state
    try:
        processor = FolderProcessor(mailbox, opened, classifier, options, clock=clock,
                                    on_outcome=collect, progress=False)
        try:
            processor.sync_sent()
        except MailboxError as exc:  # sender history is a bonus, not a requirement
            log.warning("%s: cannot read the Sent folder: %s", account, exc)
        report = processor.process(folder)
    finally:
        if opened is not state:
            opened.close()
    report.outcomes = outcomes
    return report


# --------------------------------------------------------------------------- the daemon


MailboxFactory = Callable[[Account], Mailbox]


@dataclass
class AccountResult:
    account: str
    error: TriageError | None = None


class Daemon:
    """Workers per account and folder: catch up, IDLE, reconnect; `stop()` ends them cleanly.

    Every part is passed in: the configuration, the accounts to run, a factory that connects
    an account's mailbox (the IMAP adapter with the account's password, in production), the
    classifier, where the state lives, the clock and the backoff.
    """

    def __init__(
        self,
        config: Config,
        classifier: Classifier,
        connect: MailboxFactory,
        *,
        accounts: Sequence[Account] | None = None,
        state_dir: Path | None = None,
        clock: Clock = SYSTEM_CLOCK,
        backoff: Backoff | None = None,
        once: bool = False,
        dry_run: bool = False,
        since: date | None = None,
        compose: Compose | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        progress: bool = True,
        once_retries: int = 3,
        templates_dir: Path | None = None,
        personal: Personal | None = None,
    ) -> None:
        self.config = config
        self.classifier = classifier
        # Per account: personal model, lists, corrections, retraining (triage.learning).
        self.personal = personal
        self.connect = connect
        self.accounts = tuple(accounts if accounts is not None else config.accounts)
        self.state_dir = state_dir or config.state_dir
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.once = once
        self.dry_run = dry_run
        self.since = since
        self.compose = compose
        self.on_outcome = on_outcome
        self.progress = progress
        self.once_retries = once_retries
        self.templates_dir = templates_dir
        self.stop_event = threading.Event()
        self.results: dict[str, AccountResult] = {}
        self.reports: list[FolderReport] = []
        self._lock = threading.Lock()
        self._classify_lock = threading.Lock()
        self._fingerprints: set[str] = set()
        self._fingerprints_lock = threading.Lock()
        self._sent_ready: dict[str, threading.Event] = {}
        self._host = socket.gethostname()

    # -- control

    def stop(self) -> None:
        """Ask every worker to finish the message in hand, checkpoint and log out."""
        if not self.stop_event.is_set():
            log.info("stopping: finishing the messages in hand")
        self.stop_event.set()

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def run(self) -> int:
        """Run until stopped (or, with `once`, until every folder is caught up).

        Returns 0, or the exit code of the error that stopped the accounts.
        """
        if not self.dry_run:
            # Create the schema before the threads race for it.
            State.open(self.state_dir).close()
        threads = []
        for account in self.accounts:
            self._sent_ready[account.name] = threading.Event()
            self.results[account.name] = AccountResult(account.name)
            for index, folder in enumerate(account.folders):
                thread = threading.Thread(
                    target=self._worker, args=(account, folder, index == 0),
                    name=f"triage-{account.name}-{folder}", daemon=True)
                threads.append(thread)
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.2)
        errors = [r.error for r in self.results.values() if r.error is not None]
        if not errors:
            return 0
        if self.once or len(errors) == len(self.accounts):
            return max(e.exit_code for e in errors)
        return 0

    # -- one worker

    def _options(self, account: Account) -> Options:
        first, own = user_addresses(account, self.config.drafts)
        return Options(
            account=account.name,
            labels=self.config.labels,
            drafts=self.config.drafts,
            user_address=first,
            user_addresses=own,
            backfill_days=self.config.daemon.backfill_days,
            since=self.since,
            dry_run=self.dry_run,
            templates_dir=self.templates_dir,
            shadow=account.mode == "shadow",
        )

    def _open_state(self) -> State:
        if not self.dry_run:
            return State.open(self.state_dir)
        # A dry run reads where the last real run stopped, and writes nothing.
        try:
            return State.open(self.state_dir, readonly=True)
        except StateError:
            return _NullState()  # type: ignore[return-value]

    def _worker(self, account: Account, folder: str, syncs_sent: bool) -> None:
        state = self._open_state()
        beat = _Heartbeat(None if self.dry_run else state, account.name, folder, self.clock,
                          self._host)
        beat.started()
        attempt = 0
        try:
            while not self.stopping:
                mailbox: Mailbox | None = None
                try:
                    mailbox = self.connect(account)
                    if attempt:
                        log.info("%s/%s: connected again", account.name, folder)
                    attempt = 0
                    beat.connected(True)
                    self._serve(account, folder, syncs_sent, mailbox, state, beat)
                    return
                except (AuthenticationError, CredentialError, ConfigError) as exc:
                    log.error("%s: %s; this account stops here (fix it, then restart triage)",
                              account.name, exc)
                    beat.failed(str(exc), stopped=True)
                    self._fail(account, exc)
                    return
                except StateError as exc:
                    log.error("%s: %s", account.name, exc)
                    beat.failed(str(exc), stopped=True)
                    self._fail(account, exc)
                    self.stop()
                    return
                except MailboxError as exc:
                    beat.failed(str(exc))
                    retryable = isinstance(exc, ConnectionLostError)
                    if self.once and (not retryable or attempt >= self.once_retries):
                        log.error("%s/%s: %s", account.name, folder, exc)
                        self._fail(account, exc)
                        return
                    delay = self.backoff.delay(attempt)
                    attempt += 1
                    log.warning("%s/%s: %s; trying again in %.1f s", account.name, folder,
                                exc, delay)
                    if self.clock.sleep(delay, self.stop_event):
                        return
                except ModelError as exc:
                    log.error("%s/%s: %s", account.name, folder, exc)
                    beat.failed(str(exc))
                    if self.once:
                        self._fail(account, exc)
                        return
                    delay = self.backoff.delay(attempt)
                    attempt += 1
                    if self.clock.sleep(delay, self.stop_event):
                        return
                except Exception as exc:
                    log.exception("%s/%s: unexpected error", account.name, folder)
                    beat.failed(f"{type(exc).__name__}: {exc}")
                    if self.once:
                        self._fail(account, TriageError(f"{type(exc).__name__}: {exc}"))
                        return
                    delay = self.backoff.delay(attempt)
                    attempt += 1
                    if self.clock.sleep(delay, self.stop_event):
                        return
                finally:
                    if mailbox is not None:
                        mailbox.close()
                    beat.connected(False)
        finally:
            if syncs_sent:
                self._sent_ready[account.name].set()
            beat.stopped()
            state.close()

    def _serve(self, account: Account, folder: str, syncs_sent: bool, mailbox: Mailbox,
               state: State, beat: _Heartbeat) -> None:
        """Catch up, then wait for news, until stopped (or once, with `once`)."""
        personal = self.personal
        processor = FolderProcessor(
            mailbox, state,
            personal.classifier(account.name) if personal else self.classifier,
            self._options(account), clock=self.clock, compose=self.compose,
            should_stop=lambda: self.stopping, on_outcome=self._outcome(beat),
            progress=self.progress, classify_lock=self._classify_lock,
            fingerprints=self._fingerprints, fingerprints_lock=self._fingerprints_lock,
            corrections=personal.watcher(account.name) if personal and not self.dry_run
            else None)
        last_sent_sync = -SENT_RESYNC_SECONDS
        if not syncs_sent:
            # Let the first worker of the account read the Sent folder first.
            self._sent_ready[account.name].wait(timeout=120)
        while not self.stopping:
            if syncs_sent and self.clock.monotonic() - last_sent_sync >= SENT_RESYNC_SECONDS:
                try:
                    processor.sync_sent()
                except ConnectionLostError:
                    raise
                except MailboxError as exc:  # sender history is a bonus, not a requirement
                    log.warning("%s: cannot read the Sent folder: %s", account.name, exc)
                last_sent_sync = self.clock.monotonic()
                self._sent_ready[account.name].set()
            report = processor.process(folder)
            with self._lock:
                self.reports.append(replace(report, outcomes=[]))
            beat.beat(force=True)
            if self.once:
                return
            if isinstance(mailbox, Watchable):

                def interrupted() -> bool:
                    beat.beat()
                    return self.stopping

                refresh = min(self.config.daemon.idle_refresh_minutes * 60, MAX_IDLE_SECONDS)
                mailbox.wait(folder, timeout=refresh,
                             poll_interval=self.config.daemon.poll_seconds,
                             interrupted=interrupted)
            else:
                deadline = self.clock.monotonic() + self.config.daemon.poll_seconds
                while not self.stopping and self.clock.monotonic() < deadline:
                    if self.clock.sleep(min(1.0, deadline - self.clock.monotonic()),
                                        self.stop_event):
                        break
                    beat.beat()

    def _outcome(self, beat: _Heartbeat) -> Callable[[Outcome], None]:
        def handle(outcome: Outcome) -> None:
            beat.activity()
            if outcome.status == "error":
                log.warning("%s/%s: UID %d skipped: %s", outcome.account, outcome.folder,
                            outcome.uid, outcome.error)
            elif outcome.decision is not None:
                log.debug("%s/%s: UID %d %s (%.2f)%s", outcome.account, outcome.folder,
                          outcome.uid, outcome.decision.label, outcome.decision.confidence,
                          f", labels {', '.join(outcome.labels)}" if outcome.labels else "")
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        return handle

    def _fail(self, account: Account, exc: TriageError) -> None:
        with self._lock:
            self.results[account.name].error = exc


class _Heartbeat:
    """What a worker tells `triage status` through the state database."""

    def __init__(self, state: State | None, account: str, folder: str, clock: Clock,
                 host: str) -> None:
        self.state = state
        self.account = account
        self.folder = folder
        self.clock = clock
        self.host = host
        self.last = -HEARTBEAT_SECONDS
        self.pending_activity = False

    def _write(self, **kwargs: Any) -> None:
        if self.state is None:
            return
        try:
            self.state.heartbeat(self.account, self.folder, now=self.clock.now(), **kwargs)
            self.last = self.clock.monotonic()
        except StateError as exc:  # status is best effort; the work itself goes on
            log.debug("heartbeat not written: %s", exc)

    def started(self) -> None:
        self._write(started=True, connected=False, stopped=False, pid=os.getpid(),
                    host=self.host)

    def connected(self, value: bool) -> None:
        self._write(connected=value)

    def failed(self, error: str, *, stopped: bool = False) -> None:
        self._write(error=error, connected=False, stopped=stopped or None)

    def activity(self) -> None:
        self.pending_activity = True

    def beat(self, force: bool = False) -> None:
        """Write a heartbeat when one is due (cheap to call every second)."""
        if force or self.clock.monotonic() - self.last >= HEARTBEAT_SECONDS:
            self._write(activity=self.pending_activity)
            self.pending_activity = False

    def stopped(self) -> None:
        self._write(connected=False, stopped=True, activity=self.pending_activity)


class _NullState:
    """Stands in for `State` in a dry run before any real run: knows nothing, writes nothing."""

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        empty: dict[str, Any] = {
            "folder": None, "ledger": {}, "seen_before": {}, "known_uids": set(),
            "times_written_to": {}, "recently_drafted": set(), "sent_checkpoint": None,
        }
        if name in empty:
            value = empty[name]
            return lambda *a, **k: value
        raise StateError(f"dry run: the state is not written ({name})")
