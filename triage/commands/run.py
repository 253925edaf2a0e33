"""`triage run`: watch the configured mailboxes, label networking mail, write feedback drafts.

Without `--once` it runs until stopped: a catch-up of every watched folder, then IMAP IDLE
(polling where the server has none), reconnecting by itself after network trouble or a server
restart. SIGTERM and SIGINT (Ctrl-C) finish the message in hand, checkpoint and exit 0, which
is how systemd and launchd stop it. `--once` catches up and exits, for cron and backfills.
"""

from __future__ import annotations

import argparse
import logging
import signal
from datetime import date
from types import FrameType

from triage.commands.common import add_model_argument
from triage.config import Config, add_config_argument, load_config
from triage.daemon.options import RunOptions
from triage.daemon.outcomes import Outcome
from triage.daemon.retraining import Personal
from triage.daemon.supervisor import Daemon, DaemonParts
from triage.mail.signin import Connector
from triage.model.classifier import Classifier
from triage.store.personal import base_model_path, draft_policy

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="watch the mailboxes: label networking mail, draft feedback (the daemon)",
        description="Catch up on every watched folder (on the first run: mail of the last "
        "backfill_days days), then wait for new mail with IMAP IDLE and label it as it arrives. "
        "Messages are never moved away, deleted or marked read; feedback drafts go to the "
        "Drafts folder and are never sent. Stop it with SIGTERM or Ctrl-C.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--account", metavar="NAME", help="only this account (default: every account in the config)"
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="catch up on every folder, then exit (for cron and backfills)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be done; change nothing in the mailbox or the state",
    )
    parser.add_argument(
        "--since",
        type=_date,
        metavar="DATE",
        help="backfill mail received since DATE (YYYY-MM-DD) instead of the "
        "last backfill_days days; on folders seen before, also takes older "
        "mail from DATE on that was never classified",
    )
    add_model_argument(parser)
    parser.set_defaults(func=run)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def print_outcome(outcome: Outcome) -> None:
    """One line per message for --dry-run."""
    where = f"{outcome.account}/{outcome.folder} UID {outcome.uid}"
    if outcome.status == "error":
        print(f"{where}: error: {outcome.error}", flush=True)
        return
    if outcome.status == "duplicate":
        print(f"{where}: already handled ({outcome.note})", flush=True)
        return
    decision = outcome.decision
    if decision is None:
        return
    parts = [f"{decision.label} {decision.confidence:.2f}"]
    if outcome.labels:
        parts.append("label " + ", ".join(outcome.labels))
    if decision.offenses:
        parts.append("offenses " + ", ".join(decision.offenses))
    if decision.draft:
        parts.append("would draft feedback")
    elif outcome.note:
        parts.append(f"no draft: {outcome.note}")
    sender = outcome.sender or "(no sender)"
    print(f"{where}: {'; '.join(parts)} | {sender} | {outcome.subject[:80]}", flush=True)


def build_daemon(args: argparse.Namespace, config: Config) -> Daemon:
    from triage.letters.replies import user_templates_dir

    accounts = [config.account(args.account)] if args.account else list(config.accounts)
    # --model: exactly that model for every account; otherwise each account's personal model
    # (`triage learn`), picked up between batches, on the [learning] base_model / shipped one.
    classifier = Classifier.load(
        args.model or base_model_path(config.learning), policy=draft_policy(config)
    )
    personal = Personal(config, classifier, personal_models=args.model is None)
    log.info(
        "triage run: model %s; %d account%s%s%s",
        classifier.version,
        len(accounts),
        "" if len(accounts) == 1 else "s",
        "; once" if args.once else "",
        "; dry run, nothing is changed" if args.dry_run else "",
    )
    return Daemon(
        config,
        DaemonParts(
            classifier,
            Connector(readonly=args.dry_run),
            personal=personal,
            on_outcome=print_outcome if args.dry_run else None,
        ),
        RunOptions(
            accounts=tuple(accounts),
            once=args.once,
            dry_run=args.dry_run,
            since=args.since,
            progress=True,  # a bar on a terminal, a log line every 10 s otherwise
            templates_dir=user_templates_dir(config),
        ),
    )


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    daemon = build_daemon(args, config)
    signals_seen = 0

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once
        log.info("%s received", signal.Signals(signum).name)
        daemon.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = daemon.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.once or daemon.stopping:
        total = sum(r.processed for r in daemon.reports)
        drafts = sum(r.drafts for r in daemon.reports)
        log.info(
            "done: %d message%s classified, %d draft%s %s",
            total,
            "" if total == 1 else "s",
            drafts,
            "" if drafts == 1 else "s",
            "would be written (dry run: nothing was changed)" if args.dry_run else "written",
        )
    return code
