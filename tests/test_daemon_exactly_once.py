"""Exactly once, at every cut point: a crash before or after any effect, then a clean run.

The folder processor is backend-agnostic, so these run on a Maildir (fast, no server): a
wrapper around the mailbox raises a crash (a BaseException nothing in triage catches, like the
process dying) at the k-th effect, before or after it reaches the mailbox. After a second, clean
run, every message must carry exactly its label once (label folders hold one copy per
message), every offender exactly one draft, and the ledger must be complete. The same is
checked against a real Dovecot with `kill -9` in test_daemon_faults.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from daemon_support import mixed_mail

from triage.config import DraftsConfig, LabelNames
from triage.daemon.dry_run import open_state
from triage.daemon.folder import FolderProcessor, process_folder
from triage.daemon.options import Options
from triage.daemon.outcomes import FolderReport
from triage.daemon.parts import FolderParts
from triage.errors import MailboxError
from triage.mail.maildir import MaildirMailbox
from triage.mail.maildir_files import flags_of
from triage.message.parse import parse_message
from triage.model.classifier import Classifier
from triage.store.state import State

USER = "sam@example.org"
DRAFTS = DraftsConfig(daily_cap=1000, addresses=(USER,), from_name="Sam Reader")
LABELS = LabelNames()
OPTIONS = Options(
    account="local",
    labels=LABELS,
    drafts=DRAFTS,
    user_address=USER,
    user_addresses=frozenset({USER}),
    backfill_days=None,
    progress=False,
)


class Crash(BaseException):
    """The process dying: nothing in triage catches a BaseException."""


class FaultyMailbox:
    """Delegates to a real mailbox and crashes at the k-th effect point (0 = never)."""

    def __init__(self, inner: MaildirMailbox, crash_at: int) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.points = 0

    def _point(self, what: str) -> None:
        self.points += 1
        if self.points == self.crash_at:
            raise Crash(what)

    def add_label(self, folder: str, uids: Sequence[int], label: str) -> None:
        self._point(f"before label {label}")
        self.inner.add_label(folder, uids, label)
        self._point(f"after label {label}")

    def append(self, folder: str, raw: bytes, flags: Iterable[str]) -> None:
        self._point("before append")
        self.inner.append(folder, raw, flags)
        self._point("after append")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def build(root: Path, count: int = 10) -> MaildirMailbox:
    mailbox = MaildirMailbox(root / "Maildir", create=True)
    mailbox.create_folder("Drafts")
    for raw in mixed_mail(count):
        mailbox.append("INBOX", raw, ())
    return mailbox


def run(
    mailbox: Any,
    classifier: Classifier,
    state_dir: Path,
    folder: str = "INBOX",
    options: Options = OPTIONS,
) -> FolderReport:
    """One catch-up as `triage demo` makes it, the state directory opened for it."""
    state = open_state(state_dir, dry_run=options.dry_run)
    try:
        return process_folder(FolderParts(mailbox, state, classifier), options, folder)
    finally:
        state.close()


def copies(mailbox: MaildirMailbox, folder: str) -> Counter[str]:
    if not mailbox.folder_exists(folder):
        return Counter()
    return Counter(
        parse_message(m.raw).message_id for m in mailbox.fetch(folder, mailbox.search(folder))
    )


def check_exactly_once(mailbox: MaildirMailbox, classifier: Classifier, state_dir: Path) -> int:
    inbox = [parse_message(m.raw) for m in mailbox.fetch("INBOX", mailbox.search("INBOX"))]
    decisions = classifier.classify(inbox)
    relationship = copies(mailbox, LABELS.relationship)
    solicitation = copies(mailbox, LABELS.solicitation)
    drafted = copies(mailbox, LABELS.drafted)
    drafts = Counter(
        parse_message(m.raw).in_reply_to for m in mailbox.fetch("Drafts", mailbox.search("Drafts"))
    )
    for msg, decision in zip(inbox, decisions, strict=True):
        mid = msg.message_id
        assert relationship[mid] == (decision.label == "relationship"), mid
        assert solicitation[mid] == (decision.label == "solicitation"), mid
        assert drafted[mid] == int(decision.draft), mid
        assert drafts[mid] == int(decision.draft), mid
    assert all(n == 1 for n in drafts.values())
    for path in (mailbox.folder_path("INBOX") / "cur").iterdir():
        assert "\\Seen" not in flags_of(path.name)
    with State.open(state_dir) as state:
        counts = state.counts("local")["local"]
        assert "pending" not in counts
        assert sum(counts.values()) == len(inbox)
        assert len([d for d in state.drafts() if d.status == "written"]) == sum(drafts.values())
    return sum(drafts.values())


def test_a_clean_run_and_a_second_run(tmp_path: Path, daemon_classifier: Classifier) -> None:
    mailbox = build(tmp_path)
    report = run(mailbox, daemon_classifier, tmp_path / "state")
    assert report.complete and report.processed == 10
    drafts = check_exactly_once(mailbox, daemon_classifier, tmp_path / "state")
    assert drafts >= 1, "the test mail must give the model at least one offender to draft for"
    again = run(mailbox, daemon_classifier, tmp_path / "state")
    assert again.candidates == 0 and again.processed == 0
    check_exactly_once(mailbox, daemon_classifier, tmp_path / "state")


def test_a_crash_at_every_effect_then_a_clean_run(
    tmp_path: Path, daemon_classifier: Classifier
) -> None:
    probe = FaultyMailbox(build(tmp_path / "probe", count=5), crash_at=0)
    run(probe, daemon_classifier, tmp_path / "probe" / "state")
    points = probe.points
    assert points >= 6
    for k in range(1, points + 1):
        root = tmp_path / f"crash-{k}"
        mailbox = build(root, count=5)
        with pytest.raises(Crash):
            run(FaultyMailbox(mailbox, crash_at=k), daemon_classifier, root / "state")
        run(mailbox, daemon_classifier, root / "state")
        check_exactly_once(mailbox, daemon_classifier, root / "state")


def test_two_crashes_in_a_row(tmp_path: Path, daemon_classifier: Classifier) -> None:
    mailbox = build(tmp_path)
    for k in (3, 2):
        with pytest.raises(Crash):
            run(FaultyMailbox(mailbox, crash_at=k), daemon_classifier, tmp_path / "state")
    run(mailbox, daemon_classifier, tmp_path / "state")
    check_exactly_once(mailbox, daemon_classifier, tmp_path / "state")


def test_a_deleted_draft_is_never_written_again(
    tmp_path: Path, daemon_classifier: Classifier
) -> None:
    mailbox = build(tmp_path)
    run(mailbox, daemon_classifier, tmp_path / "state")
    drafts_dir = mailbox.folder_path("Drafts")
    written = [p for sub in ("cur", "new") for p in (drafts_dir / sub).iterdir()]
    assert written
    for path in written:  # the user deletes every draft
        path.unlink()
    # ... and the same offending messages arrive again in another folder
    mailbox.create_folder("Networking")
    for raw in mixed_mail(10):
        mailbox.append("Networking", raw, ())
    run(mailbox, daemon_classifier, tmp_path / "state", "Networking")
    run(mailbox, daemon_classifier, tmp_path / "state")
    assert mailbox.search("Drafts") == []


def test_stop_between_drafts_leaves_the_rest_for_the_next_run(
    tmp_path: Path, daemon_classifier: Classifier
) -> None:
    mailbox = build(tmp_path)
    appended = 0

    class CountingMailbox(FaultyMailbox):
        def append(self, folder: str, raw: bytes, flags: Iterable[str]) -> None:
            nonlocal appended
            appended += 1
            self.inner.append(folder, raw, flags)

    with State.open(tmp_path / "state") as state:
        processor = FolderProcessor(
            FolderParts(
                CountingMailbox(mailbox, 0),
                state,
                daemon_classifier,
                should_stop=lambda: appended >= 1,
            ),
            OPTIONS,
        )
        report = processor.process("INBOX")
        assert not report.complete
        assert appended == 1
        assert state.counts("local")["local"].get("pending", 0) >= 1
    run(mailbox, daemon_classifier, tmp_path / "state")
    check_exactly_once(mailbox, daemon_classifier, tmp_path / "state")


def test_a_failed_draft_gives_its_place_under_the_daily_cap_to_the_next(
    tmp_path: Path, daemon_classifier: Classifier
) -> None:
    mailbox = build(tmp_path, count=15)
    inbox = [parse_message(m.raw) for m in mailbox.fetch("INBOX", mailbox.search("INBOX"))]
    wanted = sum(d.draft for d in daemon_classifier.classify(inbox))
    assert wanted >= 3, "the test mail must give the model three offenders to draft for"
    refused = 0

    class RefusingFirstDraft(FaultyMailbox):
        """The server refuses the first APPEND to Drafts (a quota, say), then takes them."""

        def append(self, folder: str, raw: bytes, flags: Iterable[str]) -> None:
            nonlocal refused
            if not refused:
                refused += 1
                raise MailboxError("APPEND refused: over quota")
            self.inner.append(folder, raw, flags)

    report = run(
        RefusingFirstDraft(mailbox, 0),
        daemon_classifier,
        tmp_path / "state",
        options=replace(OPTIONS, drafts=replace(DRAFTS, daily_cap=2)),
    )
    assert refused == 1
    assert len(mailbox.search("Drafts")) == 2
    assert sum("daily cap" in o.note for o in report.outcomes) == wanted - 3
    with State.open(tmp_path / "state") as state:
        assert Counter(d.status for d in state.drafts()) == {"written": 2, "failed": 1}


def test_a_dry_run_changes_nothing(tmp_path: Path, daemon_classifier: Classifier) -> None:
    mailbox = build(tmp_path)
    before = sorted(p.name for p in (mailbox.folder_path("INBOX") / "new").iterdir())
    report = run(
        mailbox, daemon_classifier, tmp_path / "state", options=replace(OPTIONS, dry_run=True)
    )
    assert report.processed == 10 and {o.status for o in report.outcomes} == {"dry-run"}
    assert all(o.message is not None and o.decision is not None for o in report.outcomes)
    assert sorted(p.name for p in (mailbox.folder_path("INBOX") / "new").iterdir()) == before
    assert mailbox.list_folders() == ["INBOX", "Drafts"]
    assert not (tmp_path / "state").exists()
    assert run(mailbox, daemon_classifier, tmp_path / "state").processed == 10


def test_progress_is_a_bar_on_a_terminal_and_log_lines_otherwise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import io
    import logging

    from triage.daemon.progress import Progress

    class Clock:
        t = 0.0

        def monotonic(self) -> float:
            self.t += 6.0
            return self.t

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    bar = Progress("acct/INBOX", 300, stream=tty, clock=Clock())  # type: ignore[arg-type]
    for _ in range(3):
        bar.update(100)
    bar.finish()
    assert "300/300" in tty.getvalue() and "#" * 30 in tty.getvalue()
    with caplog.at_level(logging.INFO, logger="triage.daemon"):
        plain = Progress("acct/INBOX", 300, stream=io.StringIO(), clock=Clock())  # type: ignore[arg-type]
        for _ in range(3):
            plain.update(100)
    assert any("acct/INBOX: 200/300 messages" in r.getMessage() for r in caplog.records)
