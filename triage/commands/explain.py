"""`triage explain`: why a message got its class, in words a user can check.

The argument is a file (an .eml, an mbox, `-` for stdin) or a Message-ID (`<...@...>`). With a
Message-ID the ledger of the state database says what the daemon did with the message (account,
folder, UID, decision, labels, draft written or not, corrections the user made); the message is
then fetched from its mailbox (read-only, never marked read) or, when the server cannot be
reached, taken from a correction that kept its bytes, and explained with the account's current
model, lists and sender history.
"""

from __future__ import annotations

import argparse
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from triage.commands.common import (
    add_account_arguments,
    add_model_argument,
    load_classifier,
    pick_account,
    wants_config,
)
from triage.commands.inputs import iter_messages
from triage.config import Config, load_config
from triage.decide.policy import OFFENSE_NAMES, Decision, SenderContext
from triage.errors import MessageParseError, TriageError
from triage.message.parse import Message, parse_message
from triage.model.classifier import Classifier
from triage.store.corrections import Correction, CorrectionStore, LedgerEntry

log = logging.getLogger(__name__)

_SIGN = {True: "+", False: "-"}
_MESSAGE_ID = re.compile(r"<?[^<>\s@]+@[^<>\s@]+>?")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show why a message got its class",
        description="Explain a decision: the class probabilities, the strongest evidence with "
        "its weight, the sender's history with you, the offenses found, and whether a feedback "
        "draft was or would be written and why (not). PATH is an .eml file, an mbox or - for "
        "stdin; MESSAGE-ID (<...@...>) looks the message up in the daemon's records and "
        "fetches it from the mailbox.",
    )
    parser.add_argument("path", metavar="PATH|MESSAGE-ID")
    add_model_argument(parser)
    add_account_arguments(parser)
    parser.add_argument(
        "--no-fetch",
        action="store_true",
        help="with a MESSAGE-ID: do not connect to the mailbox (use a copy kept "
        "with a correction, if any)",
    )
    parser.set_defaults(func=run)


def describe(msg: Message, decision: Decision, context: SenderContext | None = None) -> str:
    sender = str(msg.sender) if msg.sender else "(no sender)"
    lines = [
        f"From:    {sender}",
        f"Subject: {msg.subject or '(no subject)'}",
        "",
        f"Class: {decision.label} (confidence {decision.confidence:.2f})",
        "  "
        + "   ".join(
            f"{label} {score:.2f}"
            for label, score in sorted(decision.scores.items(), key=lambda kv: -kv[1])
        ),
    ]
    listed = [r for r in decision.reasons if r.startswith("you listed ")]
    for reason in listed:
        lines.append(f"  decided by your lists: {reason}")
        model_said = [r for r in decision.reasons if r.startswith("the model alone says")]
        lines += [f"  ({r})" for r in model_said]
    if msg.platform:
        note = " ".join(msg.new_text.split())
        if len(note) > 160:  # cut at a word, and say so
            note = note[:160].rsplit(" ", 1)[0] + " ..."
        lines.append(
            f"  judged by the personal note of this {msg.platform} notification: "
            + (f'"{note}"' if note else "there is none")
        )
    lines += ["", f"What pushed it towards {decision.label} (strongest first):"]
    if not decision.evidence:
        lines.append("  nothing stands out; the decision rests on many small cues")
    for item in decision.evidence:
        kind = "signal" if item.feature.startswith("signal:") else "wording"
        text = item.description if kind == "signal" else f'"{item.description}"'
        lines.append(f"  {_SIGN[item.weight > 0]}{item.weight:.2f}  {kind:<8} {text}")
    if context is not None:
        lines += ["", "Sender: " + _sender_line(context)]
    else:
        written = [r for r in decision.reasons if r.startswith("you have written")]
        if written:
            lines += ["", "Sender: " + written[0]]
    lines += ["", "Offenses:"]
    if decision.offenses:
        lines += [f"  {code}: {OFFENSE_NAMES.get(code, code)}" for code in decision.offenses]
    else:
        lines.append("  none")
    if decision.draft:
        verdict = "yes: a feedback draft would be written"
    elif decision.no_draft_because:
        verdict = f"no, because {decision.no_draft_because}"
    else:
        verdict = "no: drafts are only for solicitation that shows one of the offenses"
    lines += ["", f"Draft: {verdict}"]
    return "\n".join(lines)


def _sender_line(context: SenderContext) -> str:
    if context.is_user:
        return "this is one of your own addresses"
    parts = []
    if context.times_written_to:
        times = "once" if context.times_written_to == 1 else f"{context.times_written_to} times"
        parts.append(
            f"you have written to them {times} (a relationship signal: solicitation "
            f"is discounted for people you write to)"
        )
    else:
        parts.append("you have never written to them (from your Sent folder)")
    if context.recently_drafted:
        parts.append("they already got a feedback draft recently")
    return "; ".join(parts)


def _context(config: Config | None, msg: Message) -> SenderContext | None:
    """What the state knows about the sender, when there is a config and a state database."""
    if config is None or msg.sender is None:
        return None
    from triage.store.schema import db_path
    from triage.store.state import State

    if not db_path(config.state_dir).exists():
        return None
    address = msg.sender.addr
    try:
        with State.open(config.state_dir, readonly=True) as state:
            written = state.times_written_to([address]).get(address, 0)
            recent = address in state.recently_drafted(
                [address],
                config.drafts.cooldown_days,
                datetime.now(UTC),
                except_reply_to=msg.message_id,
            )
    except TriageError as exc:
        log.debug("no sender history: %s", exc)
        return None
    own = {a.lower() for a in config.drafts.addresses}
    own |= {a.username.lower() for a in config.accounts if "@" in a.username}
    return SenderContext(times_written_to=written, is_user=address in own, recently_drafted=recent)


def is_message_id(argument: str) -> bool:
    return bool(_MESSAGE_ID.fullmatch(argument)) and not Path(argument).exists()


def run(args: argparse.Namespace) -> int:
    if args.path != "-" and is_message_id(args.path):
        return explain_message_id(args)
    classifier = load_classifier(args)
    config = load_config(args.config) if wants_config(args) else None
    items = list(iter_messages([args.path]))
    if not items:
        raise TriageError(f"{args.path}: no message found")
    for index, (path, raw) in enumerate(items):
        try:
            msg = parse_message(raw)
        except MessageParseError as exc:
            raise MessageParseError(f"{path}: {exc}") from None
        if index:
            print("\n" + "=" * 72 + "\n")
        if len(items) > 1:
            print(path)
        context = _context(config, msg)
        print(describe(msg, classifier.classify([msg], [context] if context else None)[0], context))
    return 0


# --------------------------------------------------------------------------- by Message-ID


def explain_message_id(args: argparse.Namespace) -> int:
    from triage.store.schema import db_path

    message_id = args.path if args.path.startswith("<") else f"<{args.path.strip('<>')}>"
    config = load_config(args.config)
    path = db_path(config.state_dir)
    if not path.exists():
        raise TriageError(
            f"{message_id}: triage has not run yet (no state at {path}); explain a file instead"
        )
    with CorrectionStore(path, readonly=True) as store:
        entries = store.ledger(message_id, args.account)
        corrections = store.corrections(args.account, message_id=message_id, with_raw=True)
    if not entries:
        raise TriageError(
            f"{message_id}: not in triage's records"
            + (f" for account {args.account!r}" if args.account else "")
            + " (only mail the daemon has classified is there)"
        )
    print(f"Message-ID: {message_id}")
    for entry in entries:
        print(_ledger_lines(entry))
    if corrections:
        print("\nYour corrections:")
        for c in corrections:
            what = "reviewed" if c.kind == "confirmation" else "corrected"
            print(
                f"  {c.created_at.astimezone():%Y-%m-%d %H:%M}  {what}: {c.old_label} -> "
                f"{c.new_label} ({c.account}/{c.folder} UID {c.uid})"
            )
    entry = entries[0]
    raw, where = _fetch(config, entry, message_id, corrections, offline=args.no_fetch)
    print()
    if raw is None:
        print(f"The message itself: {where}")
        return 0
    try:
        msg = parse_message(raw)
    except MessageParseError as exc:
        print(f"The message itself ({where}) cannot be read: {exc}")
        return 1
    classifier: Classifier = load_classifier(_with_account(args, config, entry.account))
    context = _context(config, msg)
    decision = classifier.classify([msg], [context] if context else None)[0]
    print(f"Explained now ({where}; model {decision.model_version}):\n")
    print(describe(msg, decision, context))
    if entry.label and decision.label != entry.label:
        print(
            f"\nNote: triage decided {entry.label} at the time (model {entry.model_version}); "
            f"the current model says {decision.label}."
        )
    return 0


def _with_account(args: argparse.Namespace, config: Config, account: str) -> argparse.Namespace:
    names = {a.name for a in config.accounts}
    chosen = args.account or (account if account in names else None)
    if chosen is None:
        chosen = pick_account(config, None)
    return argparse.Namespace(**{**vars(args), "account": chosen})


def _ledger_lines(e: LedgerEntry) -> str:
    decided = (
        f"{e.label} ({e.confidence:.2f})"
        if e.label and e.confidence is not None
        else (e.label or "not classified")
    )
    lines = [
        "",
        f"{e.account}/{e.folder} UID {e.uid} (UIDVALIDITY {e.uidvalidity}), handled "
        f"{e.created_at.astimezone():%Y-%m-%d %H:%M}: {e.status}",
        f"  decision: {decided}, model {e.model_version or '?'}",
    ]
    if e.offenses:
        lines.append("  offenses: " + ", ".join(e.offenses))
    lines.append("  labels applied: " + (", ".join(e.labels) if e.labels else "none"))
    if e.draft_written:
        when = f" {e.draft_written_at[:16].replace('T', ' ')} UTC" if e.draft_written_at else ""
        lines.append(f"  draft: written{when} to Drafts as {e.draft_message_id}")
    elif e.draft_message_id:
        lines.append(f"  draft: planned ({e.draft_status or 'not written yet'})")
    else:
        lines.append(f"  draft: none{(' - ' + e.note) if e.note else ''}")
    if e.error:
        lines.append(f"  error: {e.error}")
    return "\n".join(lines)


def _fetch(
    config: Config,
    entry: LedgerEntry,
    message_id: str,
    corrections: list[Correction],
    *,
    offline: bool,
) -> tuple[bytes | None, str]:
    """The message's bytes and where they came from."""
    kept = next((c.raw for c in reversed(corrections) if c.raw), None)
    problem = "not fetched (--no-fetch)"
    if not offline:
        try:
            raw = _from_mailbox(config, entry, message_id)
            if raw is not None:
                return raw, f"fetched from {entry.account}/{entry.folder}"
            problem = f"no longer in {entry.account}/{entry.folder}"
        except TriageError as exc:
            problem = f"the mailbox could not be reached: {exc}"
    if kept is not None:
        return kept, f"the copy kept with your correction; {problem}"
    return None, problem


def _from_mailbox(config: Config, entry: LedgerEntry, message_id: str) -> bytes | None:
    from triage.mail.signin import Connector

    account = config.account(entry.account)
    with Connector(readonly=True)(account) as session:
        session.open_folder(entry.folder)
        uids = session.find_message_id(entry.folder, message_id)
        if not uids:
            return None
        fetched = session.fetch(entry.folder, uids[:1])
        return fetched[0].raw if fetched else None
