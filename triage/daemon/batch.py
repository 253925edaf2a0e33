"""One batch of new mail, exactly once: classify, record, apply labels, write drafts, settle.

Every effect is recorded in the ledger (`triage.store.state`) *before* it is made, and every effect
can be repeated safely, so a `kill -9` anywhere leaves a state the next run completes without
doing anything twice:

1. Rows for the batch are written with status `pending`: the decision, the labels to apply and,
   if the message gets a feedback draft, the draft's Message-ID, which is derived from the
   original's Message-ID and so the same on every run
   (`triage.letters.replies.draft_message_id`). The daily cap, the per-sender cooldown and
   "one draft per original" are decided in that same write transaction.
2. Labels are applied. A keyword or Gmail label is idempotent by nature; a folder copy is made
   only when the label folder does not hold that Message-ID yet.
3. Drafts are appended to Drafts, each recorded as written right after its APPEND; then the
   original gets the drafted label (`triage.daemon.drafts`). A `pending` row found on restart
   whose draft is not recorded as written is first looked up in Drafts by its Message-ID, and
   only appended if absent. A draft recorded as written is never written again, even if the
   user deleted it.
4. Rows become `done` and the folder checkpoint (last UID) moves, in one transaction.

A message that cannot be parsed or handled is recorded as `error` and skipped. A changed
UIDVALIDITY re-scans the folder and matches messages already handled by Message-ID (or, without
one, a digest of the header): they are recorded as `duplicate`, are not classified again and
never get a second draft; only the labels recorded for them are applied again, which changes
nothing where they survived (a keyword is set once, a folder copy is not made twice) and
restores them where the folder was rebuilt without them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast, get_args

from triage.config import LabelSet
from triage.daemon.classify import classify_raw
from triage.daemon.drafts import DraftWriter
from triage.daemon.options import Options
from triage.daemon.outcomes import FolderReport, Outcome
from triage.daemon.parts import FolderParts
from triage.daemon.sent import SentHistory
from triage.decide.policy import DRAFTS_OFF, Decision, Label, SenderContext
from triage.errors import ConnectionLostError, MailboxError, one_line
from triage.mail.message_ids import message_id_in, message_key
from triage.mail.protocol import FetchedMessage
from triage.message.parse import Message, parse_message
from triage.store.records import Intent, LedgerRow

log = logging.getLogger(__name__)


@dataclass
class Item:
    """One message moving through a batch."""

    fetched: FetchedMessage
    key: str = ""
    message: Message | None = None
    decision: Decision | None = None
    row: LedgerRow | None = None  # the pending row of an earlier, interrupted run
    labels: tuple[str, ...] = ()
    draft_id: str = ""
    draft_planned: bool = False
    capped: Intent | None = None  # refused a draft by the daily cap alone
    note: str = ""
    status: str = "pending"
    error: str = ""
    draft_written: bool = False
    recorded: bool = False  # settled in the ledger when the intents were written
    duplicate: bool = False  # handled before under another UIDVALIDITY
    summary: tuple[str, str, str] = ("", "", "")  # Message-ID, sender address, subject


class BatchPipeline:
    """Handles batches of one account's folders; see the module docstring for the order."""

    def __init__(self, parts: FolderParts, options: Options, sent: SentHistory) -> None:
        self.parts = parts
        self.mailbox = parts.mailbox
        self.state = parts.state
        self.options = options
        self.sent = sent
        self.drafts = DraftWriter(parts, options)
        self._label_set: LabelSet | None = None

    @property
    def account(self) -> str:
        return self.options.account

    @property
    def label_set(self) -> LabelSet:
        if self._label_set is None:
            labels = self.options.labels
            self._label_set = (
                labels
                if isinstance(labels, LabelSet)
                else labels.for_style(self.mailbox.label_style)
            )
        return self._label_set

    def run(self, folder: str, uidvalidity: int, chunk: list[int], report: FolderReport) -> bool:
        """Handle one batch; False when stopped before its end (the rest stays pending)."""
        rows = self.state.ledger(self.account, folder, uidvalidity, chunk)
        todo = [u for u in chunk if u not in rows or not rows[u].settled]
        fetched = self.mailbox.fetch(folder, todo) if todo else []
        items = [Item(f, row=rows.get(f.uid)) for f in fetched]
        fresh = [item for item in items if item.row is None]
        self._understand(folder, uidvalidity, fresh)
        for item in items:
            if item.row is not None:
                self._resume(item)

        if self.options.dry_run:
            for item in items:
                shown = item.status if item.status in ("duplicate", "error") else "dry-run"
                self._emit(folder, item, shown)
                _count(report, item)
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
                _count(report, item)
                continue
            if item.status == "pending":
                continue  # interrupted before its draft: stays pending for the next run
            if item.duplicate and item.status == "done":
                item.status = "duplicate"
            results.append((item.fetched.uid, item.status, item.error))
            settled.add(item.fetched.uid)
            self._emit(folder, item, "labelled" if item.status == "done" else item.status)
            _count(report, item)
        checkpoint = None
        for uid in chunk:  # the highest UID with everything up to it settled
            if uid not in settled:
                break
            checkpoint = uid
        self.state.settle(
            self.account,
            folder,
            uidvalidity,
            results,
            checkpoint_uid=checkpoint,
            highestmodseq=None,
            now=self.parts.clock.now(),
        )
        return not stopped

    def _understand(self, folder: str, uidvalidity: int, items: list[Item]) -> None:
        """Recognise messages handled before, classify the rest, plan their labels."""
        for item in items:
            item.key = message_key(item.fetched.raw, message_id_in(item.fetched.raw))

        seen = self.state.seen_before(self.account, folder, uidvalidity, [i.key for i in items])
        corrections = self.parts.corrections
        for item in items:
            before = seen.get(item.key)
            if before is None:
                continue
            item.duplicate = True
            item.note = f"handled before as UID {before.uid} (UIDVALIDITY {before.uidvalidity})"
            item.labels = before.labels
            if corrections is not None:  # what the user changed stays changed
                item.labels = corrections.labels_to_reapply(
                    folder, item.key, item.labels, self.label_set
                )
            if before.draft_written:
                item.labels = (*item.labels, self.label_set.drafted)
            if before.label:
                item.decision = decision_from_row(before, draft=False)
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
                if not self.drafts.folder():
                    item.draft_id, item.note = "", "no Drafts folder"
            else:
                item.draft_id = ""
                if decision.draft:
                    item.note = (
                        "shadow mode: a draft would be written"
                        if self.options.shadow
                        else DRAFTS_OFF
                    )
                elif decision.no_draft_because:
                    item.note = decision.no_draft_because
            if not item.labels and not item.draft_id:
                item.status = "done"

    def _classify(self, items: list[Item]) -> None:
        """Parse and classify, with what the state knows about each sender."""
        raws = [i.fetched.raw for i in items]
        with self.parts.classify_lock:
            results = classify_raw(
                self.parts.classifier, raws, self._contexts, self.options.user_address
            )
        for item, result in zip(items, results, strict=True):
            item.message = result.message
            item.decision = result.decision
            item.draft_id = result.draft_id
            item.summary = (result.message_id, result.sender, result.subject)
            if result.error:
                item.status, item.error = "error", result.error

    def _contexts(self, senders: Sequence[str]) -> list[SenderContext]:
        return self.sent.contexts(senders, self.parts.clock.now())

    def _resume(self, item: Item) -> None:
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
        item.decision = decision_from_row(row) if row.label else None
        try:
            item.message = parse_message(item.fetched.raw)
        except Exception as exc:  # noqa: BLE001
            item.message = None
            if item.draft_planned and not item.draft_written:
                item.status, item.error = "error", f"cannot parse: {one_line(exc)}"
        log.info(
            "%s: finishing UID %d, interrupted by an earlier stop", self.account, item.fetched.uid
        )

    def _record(self, folder: str, uidvalidity: int, items: list[Item]) -> None:
        """Step 1: the intents of new messages, with their drafts planned under the cap."""
        intents = [_intent(item) for item in items]
        for item, intent in zip(items, intents, strict=True):
            item.recorded = intent.status != "pending"
        drafts = self.options.drafts
        plans = self.state.record_intents(
            self.account,
            folder,
            uidvalidity,
            intents,
            drafts_folder=self.drafts.folder(),
            daily_cap=drafts.daily_cap,
            cooldown_days=drafts.cooldown_days,
            now=self.parts.clock.now(),
        )
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

    def _apply(self, folder: str, uidvalidity: int, items: list[Item]) -> bool:
        """Steps 2 and 3: labels for the whole batch, then drafts one by one. True if stopped
        midway."""
        groups: dict[str, list[Item]] = {}
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
                log.error(
                    "%s/%s: cannot apply label %s: %s", self.account, folder, name, one_line(exc)
                )
                for item in members:
                    item.status, item.error = "error", f"label {name}: {one_line(exc)}"
        stopped = False
        failed_drafts = 0
        for item in items:
            if item.status != "pending":
                continue
            if item.capped is not None and failed_drafts:
                self.drafts.plan_capped(folder, uidvalidity, item)
            if item.draft_planned:
                if self.parts.should_stop():
                    stopped = True
                    continue  # stays pending; the next run writes the draft
                self.drafts.write(folder, uidvalidity, item, self.label_set.drafted)
                failed_drafts += not item.draft_written
            if item.status == "pending":
                item.status = "done"
        return stopped

    def _emit(self, folder: str, item: Item, status: str) -> None:
        on_outcome = self.parts.on_outcome
        if on_outcome is None:
            return
        message_id, sender, subject = item.summary
        on_outcome(
            Outcome(
                account=self.account,
                folder=folder,
                uid=item.fetched.uid,
                status=status,
                message_id=message_id,
                sender=sender,
                subject=subject,
                decision=item.decision,
                message=item.message,
                labels=item.labels,
                draft_message_id=item.draft_id if item.draft_written else "",
                note=item.note,
                error=item.error,
            )
        )


def _intent(item: Item) -> Intent:
    decision = item.decision
    message_id, sender, subject = item.summary
    return Intent(
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
    )


def _count(report: FolderReport, item: Item) -> None:
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


def decision_from_row(row: LedgerRow, *, draft: bool = True) -> Decision:
    """The decision recorded in the ledger (enough to finish its effects or write its draft)."""
    label = cast(Label, row.label if row.label in get_args(Label) else "other")
    confidence = row.confidence or 0.0
    return Decision(
        label=label,
        confidence=confidence,
        scores={label: confidence},
        offenses=row.offenses,
        draft=draft,
        reasons=(),
        model_version=row.model_version,
    )
