"""The supervisor: a worker thread per account and watched folder. Each connects, catches up,
waits for news (IDLE, or polling), reconnects with capped exponential backoff and jitter,
stops its account on an authentication failure; `Daemon.stop()` ends them all cleanly
(SIGTERM/SIGINT in `triage run`)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from triage.config import Account, Config
from triage.daemon.clock import SYSTEM_CLOCK, Backoff, Clock
from triage.daemon.dry_run import open_state
from triage.daemon.folder import FolderProcessor
from triage.daemon.heartbeat import Heartbeat
from triage.daemon.options import Options, RunOptions, user_addresses
from triage.daemon.outcomes import FolderReport, Outcome
from triage.daemon.parts import Compose, DraftFingerprints, FolderParts
from triage.daemon.sent import SENT_RESYNC_SECONDS
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
from triage.mail.protocol import Mailbox, Watchable
from triage.model.classifier import Classifier
from triage.store.state import State

if TYPE_CHECKING:
    from triage.daemon.retraining import Personal

log = logging.getLogger(__name__)

MAX_IDLE_SECONDS = 600.0  # IDLE is re-issued at least this often, whatever the config says

MailboxFactory = Callable[[Account], Mailbox]


@dataclass(frozen=True)
class DaemonParts:
    """What the daemon is built from: the classifier, a factory that connects an account's
    mailbox (the IMAP adapter with the account's password, in production), and the rest."""

    classifier: Classifier
    connect: MailboxFactory
    personal: Personal | None = None  # per account: model, lists, corrections, retraining
    clock: Clock = SYSTEM_CLOCK
    backoff: Backoff = field(default_factory=Backoff)
    compose: Compose | None = None  # None: triage.letters.replies.build_draft
    on_outcome: Callable[[Outcome], None] | None = None


@dataclass
class AccountResult:
    account: str
    error: TriageError | None = None


class Daemon:
    """Workers per account and folder: catch up, IDLE, reconnect; `stop()` ends them cleanly.

    Every part is passed in (`DaemonParts`), and how to run (`RunOptions`): tests hand it a
    clock, a fast backoff, a mailbox of their own.
    """

    def __init__(
        self, config: Config, parts: DaemonParts, options: RunOptions | None = None
    ) -> None:
        options = options or RunOptions()
        self.config = config
        self.parts = parts
        self.options = options
        self.accounts = tuple(options.accounts if options.accounts is not None else config.accounts)
        self.state_dir = options.state_dir or config.state_dir
        self.clock = parts.clock
        self.stop_event = threading.Event()
        self.results: dict[str, AccountResult] = {}
        self.reports: list[FolderReport] = []
        self._lock = threading.Lock()
        self._classify_lock = threading.Lock()
        self._fingerprints = DraftFingerprints()
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
        if not self.options.dry_run:
            # Create the schema before the threads race for it.
            State.open(self.state_dir).close()
        threads = []
        for account in self.accounts:
            self._sent_ready[account.name] = threading.Event()
            self.results[account.name] = AccountResult(account.name)
            for index, folder in enumerate(account.folders):
                thread = threading.Thread(
                    target=self._worker,
                    args=(account, folder, index == 0),
                    name=f"triage-{account.name}-{folder}",
                    daemon=True,
                )
                threads.append(thread)
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.2)
        errors = [r.error for r in self.results.values() if r.error is not None]
        if not errors:
            return 0
        if self.options.once or len(errors) == len(self.accounts):
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
            since=self.options.since,
            dry_run=self.options.dry_run,
            templates_dir=self.options.templates_dir,
            shadow=account.mode == "shadow",
            progress=self.options.progress,
        )

    def _worker(self, account: Account, folder: str, syncs_sent: bool) -> None:
        state = open_state(self.state_dir, dry_run=self.options.dry_run)
        beat = Heartbeat(
            None if self.options.dry_run else state, account.name, folder, self.clock, self._host
        )
        beat.started()
        attempt = 0
        try:
            while not self.stopping:
                mailbox: Mailbox | None = None
                try:
                    mailbox = self.parts.connect(account)
                    if attempt:
                        log.info("%s/%s: connected again", account.name, folder)
                    attempt = 0
                    beat.connected(True)
                    self._serve(account, folder, syncs_sent, mailbox, state, beat)
                    return
                except (AuthenticationError, CredentialError, ConfigError) as exc:
                    log.error(
                        "%s: %s; this account stops here (fix it, then restart triage)",
                        account.name,
                        exc,
                    )
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
                    gave_up = attempt >= self.options.once_retries
                    if self.options.once and (not retryable or gave_up):
                        log.error("%s/%s: %s", account.name, folder, exc)
                        self._fail(account, exc)
                        return
                    delay = self.parts.backoff.delay(attempt)
                    attempt += 1
                    log.warning(
                        "%s/%s: %s; trying again in %.1f s", account.name, folder, exc, delay
                    )
                    if self.clock.sleep(delay, self.stop_event):
                        return
                except ModelError as exc:
                    log.error("%s/%s: %s", account.name, folder, exc)
                    beat.failed(str(exc))
                    if self.options.once:
                        self._fail(account, exc)
                        return
                    delay = self.parts.backoff.delay(attempt)
                    attempt += 1
                    if self.clock.sleep(delay, self.stop_event):
                        return
                except Exception as exc:
                    log.exception("%s/%s: unexpected error", account.name, folder)
                    beat.failed(f"{type(exc).__name__}: {exc}")
                    if self.options.once:
                        self._fail(account, TriageError(f"{type(exc).__name__}: {exc}"))
                        return
                    delay = self.parts.backoff.delay(attempt)
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

    def _serve(
        self,
        account: Account,
        folder: str,
        syncs_sent: bool,
        mailbox: Mailbox,
        state: State,
        beat: Heartbeat,
    ) -> None:
        """Catch up, then wait for news, until stopped (or once, with `once`)."""
        personal = self.parts.personal
        processor = FolderProcessor(
            FolderParts(
                mailbox,
                state,
                personal.classifier(account.name) if personal else self.parts.classifier,
                clock=self.clock,
                compose=self.parts.compose,
                corrections=personal.watcher(account.name)
                if personal and not self.options.dry_run
                else None,
                should_stop=lambda: self.stopping,
                on_outcome=self._outcome(beat),
                classify_lock=self._classify_lock,
                fingerprints=self._fingerprints,
            ),
            self._options(account),
        )
        last_sent_sync = -SENT_RESYNC_SECONDS
        if not syncs_sent:
            # Let the first worker of the account read the Sent folder first.
            self._sent_ready[account.name].wait(timeout=120)
        while not self.stopping:
            if syncs_sent and self.clock.monotonic() - last_sent_sync >= SENT_RESYNC_SECONDS:
                try:
                    processor.sent.sync()
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
            if self.options.once:
                return
            if isinstance(mailbox, Watchable):

                def interrupted() -> bool:
                    beat.beat()
                    return self.stopping

                refresh = min(self.config.daemon.idle_refresh_minutes * 60, MAX_IDLE_SECONDS)
                mailbox.wait(
                    folder,
                    timeout=refresh,
                    poll_interval=self.config.daemon.poll_seconds,
                    interrupted=interrupted,
                )
            else:
                deadline = self.clock.monotonic() + self.config.daemon.poll_seconds
                while not self.stopping and self.clock.monotonic() < deadline:
                    if self.clock.sleep(
                        min(1.0, deadline - self.clock.monotonic()), self.stop_event
                    ):
                        break
                    beat.beat()

    def _outcome(self, beat: Heartbeat) -> Callable[[Outcome], None]:
        def handle(outcome: Outcome) -> None:
            beat.activity()
            if outcome.status == "error":
                log.warning(
                    "%s/%s: UID %d skipped: %s",
                    outcome.account,
                    outcome.folder,
                    outcome.uid,
                    outcome.error,
                )
            elif outcome.decision is not None:
                log.debug(
                    "%s/%s: UID %d %s (%.2f)%s",
                    outcome.account,
                    outcome.folder,
                    outcome.uid,
                    outcome.decision.label,
                    outcome.decision.confidence,
                    f", labels {', '.join(outcome.labels)}" if outcome.labels else "",
                )
            if self.parts.on_outcome is not None:
                self.parts.on_outcome(outcome)

        return handle

    def _fail(self, account: Account, exc: TriageError) -> None:
        with self._lock:
            self.results[account.name].error = exc
