"""Bringing one folder up to date: where to start (checkpoint, backfill, a new UIDVALIDITY),
which UIDs are new, batch by batch through `triage.daemon.batch`, then the checkpoint moves.

Backend-agnostic through the `Mailbox` protocol, so it works the same on IMAP and on a Maildir
(`triage demo`, through `process_folder`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import sys
from dataclasses import replace
from datetime import date, timedelta

from triage.daemon.batch import BatchPipeline
from triage.daemon.options import Options
from triage.daemon.outcomes import FolderReport, Outcome
from triage.daemon.parts import FolderParts
from triage.daemon.progress import PROGRESS_MIN_MESSAGES, Progress
from triage.daemon.sent import SentHistory
from triage.errors import ConnectionLostError, MailboxError, StateError, one_line
from triage.mail.protocol import FolderStatus
from triage.store.records import FolderCheckpoint

log = logging.getLogger(__name__)


class FolderProcessor:
    """Brings one mailbox's folders up to date. One per thread."""

    def __init__(self, parts: FolderParts, options: Options) -> None:
        self.parts = parts
        self.mailbox = parts.mailbox
        self.state = parts.state
        self.clock = parts.clock
        self.options = options
        self.sent = SentHistory(parts.mailbox, parts.state, options, parts.clock)
        self.batches = BatchPipeline(parts, options, self.sent)
        self._dry_checkpoints: dict[str, int] = {}

    @property
    def account(self) -> str:
        return self.options.account

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
        if self.options.progress and len(uids) >= PROGRESS_MIN_MESSAGES:
            bar = Progress(f"{self.account}/{folder}", len(uids), clock=self.clock)
        complete = True
        try:
            for start in range(0, len(uids), self.options.batch_size):
                if self.parts.should_stop():
                    complete = False
                    break
                chunk = uids[start : start + self.options.batch_size]
                if not self.batches.run(folder, status.uidvalidity, chunk, report):
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
                self.state.advance(
                    self.account,
                    folder,
                    status.uidvalidity,
                    end,
                    status.highestmodseq,
                    self.clock.now(),
                )
        report.complete = complete
        report.seconds = self.clock.monotonic() - started  # the catch-up itself
        if complete:
            checking = self.clock.monotonic()
            self._check_corrections(folder, status)
            log.debug(
                "%s/%s: label changes checked in %.2f s",
                self.account,
                folder,
                self.clock.monotonic() - checking,
            )
        if len(uids) > self.options.batch_size:
            release_memory()
        if report.processed or report.errors or report.duplicates:
            rate = report.processed / report.seconds if report.seconds > 0 else 0.0
            log.info(
                "%s/%s: %d message%s in %.2f s (%.0f/s): %s",
                self.account,
                folder,
                report.processed,
                "" if report.processed == 1 else "s",
                report.seconds,
                rate,
                report.summary(),
            )
        return report

    def _check_corrections(self, folder: str, status: FolderStatus) -> None:
        """Record the labels the user changed since the last look (see triage.daemon.corrections).
        A failure here only postpones that to the next catch-up."""
        corrections = self.parts.corrections
        if corrections is None or self.options.dry_run:
            return
        try:
            corrections.check(
                self.mailbox,
                folder,
                self.batches.label_set,
                status.uidvalidity,
                status.highestmodseq,
            )
        except ConnectionLostError:
            raise
        except (MailboxError, StateError) as exc:
            log.warning("%s/%s: label changes not checked: %s", self.account, folder, one_line(exc))

    def _checkpoint(
        self, folder: str, status: FolderStatus, report: FolderReport
    ) -> tuple[FolderCheckpoint, date | None]:
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
            log.info(
                "%s/%s: first run; %s",
                self.account,
                folder,
                "only new mail from now on"
                if nothing_old
                else f"backfilling mail received since {since}"
                if since
                else "processing the whole folder",
            )
        else:
            report.uidvalidity_changed = True
            # Re-scan with the original window (or from when triage first saw the folder);
            # messages handled before are recognised by their Message-ID.
            since = known.backfill_since or known.created_at.astimezone().date()
            last_uid, end_uid = 0, status.uidnext - 1
            log.warning(
                "%s/%s: UIDVALIDITY changed (%d -> %d); re-scanning the folder and "
                "matching messages already handled by Message-ID",
                self.account,
                folder,
                known.uidvalidity,
                status.uidvalidity,
            )
        if self.options.dry_run:
            checkpoint = FolderCheckpoint(
                self.account,
                folder,
                status.uidvalidity,
                last_uid,
                status.highestmodseq,
                since,
                end_uid,
                now,
            )
        else:
            checkpoint = self.state.start_folder(
                self.account,
                folder,
                uidvalidity=status.uidvalidity,
                last_uid=last_uid,
                backfill_since=since,
                backfill_end_uid=end_uid,
                highestmodseq=status.highestmodseq,
                now=now,
            )
        return checkpoint, None

    def _candidates(self, folder: str, cp: FolderCheckpoint, since_extra: date | None) -> list[int]:
        """UIDs still to look at, ascending."""
        if cp.last_uid < cp.backfill_end_uid:
            old = [
                u
                for u in self.mailbox.search(
                    folder, min_uid=cp.last_uid + 1, since=cp.backfill_since
                )
                if u <= cp.backfill_end_uid
            ]
            new = self.mailbox.search(folder, min_uid=cp.backfill_end_uid + 1)
            uids = old + new
        else:
            uids = self.mailbox.search(folder, min_uid=cp.last_uid + 1)
        if since_extra is not None and cp.last_uid > 0:
            # --since on a folder seen before: also older mail from that date that was never
            # handled (it was outside the first backfill window).
            earlier = [
                u
                for u in self.mailbox.search(folder, min_uid=1, since=since_extra)
                if u <= cp.last_uid
            ]
            if earlier:
                known = self.state.known_uids(self.account, folder, cp.uidvalidity, cp.last_uid)
                uids = [u for u in earlier if u not in known] + uids
        return uids


def release_memory() -> None:
    """Hand memory freed after a big catch-up back to the system (glibc keeps it otherwise),
    so the daemon idles small."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def process_folder(
    parts: FolderParts, options: Options, folder: str, *, keep_outcomes: bool = True
) -> FolderReport:
    """Catch up one folder once, with any `Mailbox` backend (the demo's entry point): the Sent
    folder read, then the folder processed, from the same parts and options a processor takes.

    `parts.state` stays the caller's to close (`open_state` opens a state directory, read-only
    or empty for a dry run). The first run takes the whole folder unless `options.backfill_days`
    or `options.since` limits it; later runs take what is new. The report lists every
    message's `Outcome` when `keep_outcomes` is true; `parts.on_outcome` still sees each.
    """
    outcomes: list[Outcome] = []
    on_outcome = parts.on_outcome

    def collect(outcome: Outcome) -> None:
        if keep_outcomes:
            outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    processor = FolderProcessor(replace(parts, on_outcome=collect), options)
    try:
        processor.sent.sync()
    except MailboxError as exc:  # sender history is a bonus, not a requirement
        log.warning("%s: cannot read the Sent folder: %s", options.account, exc)
    report = processor.process(folder)
    report.outcomes = outcomes
    return report
