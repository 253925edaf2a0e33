"""`triage demo`: the whole pipeline on built-in sample mail, with no account and no network.

It builds a Maildir (a fresh temporary directory, or `--dir PATH`), delivers the sample
messages shipped in `triage/samples/` into its INBOX for the persona Alex Rivera, runs the
pipeline on that folder (classify, copy into label folders, feedback drafts into Drafts with
the `D` flag, a checkpoint in a state directory beside the Maildir), and prints what happened
and where to look. Running it again on the same `--dir` changes nothing: the samples are
delivered once, and the checkpoint and the ledger make every label and draft happen once.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from importlib.resources import files
from pathlib import Path

from triage.commands.common import add_model_argument
from triage.commands.render import DECISION_FLEXIBLE, DECISION_HEADERS, decision_row, table
from triage.config import DraftsConfig, LabelNames, LabelSet
from triage.daemon.folder import process_folder
from triage.daemon.options import Options
from triage.daemon.outcomes import FolderReport
from triage.daemon.parts import FolderParts
from triage.decide.policy import Decision, DraftPolicy
from triage.errors import MailboxError
from triage.mail.maildir import MaildirMailbox
from triage.mail.maildir_files import flags_of
from triage.message.parse import Message, parse_message
from triage.model.classifier import Classifier
from triage.store.state import State

USER_NAME = "Alex Rivera"
USER_ADDRESS = "alex@example.org"
INBOX = "INBOX"
MAILDIR = "Maildir"
STATE = "state"
ACCOUNT = "demo"
MARKER = "TRIAGE-DEMO.txt"
MARKER_TEXT = (
    "Made by `triage demo`: a sample Maildir (Maildir/) and the state of the run that\n"
    "processed it (state/). Safe to delete.\n"
)
CLASS_ORDER = ("relationship", "solicitation", "other")
BODY_WIDTH = 76


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on built-in sample mail (no account, no network)",
        description="Build a local sample Maildir from the messages shipped with triage, "
        "classify them, copy them into label folders, write feedback drafts for the worst "
        "offenders into Drafts, and show what happened. Needs no config and no network.",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        metavar="PATH",
        help="build the sample mailbox here (PATH/Maildir, state in "
        "PATH/state) and keep it; running again on the same PATH changes "
        "nothing (default: a temporary directory, removed at the end)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory so you can open the Maildir in a mail client",
    )
    add_model_argument(parser)
    parser.set_defaults(func=run)


# --------------------------------------------------------------------------- samples


def sample_messages() -> list[tuple[str, bytes]]:
    """(file stem, raw bytes) of the sample mail shipped inside the package, in name order."""
    folder = files("triage").joinpath("samples")
    items = [
        (entry.name.removesuffix(".eml"), entry.read_bytes())
        for entry in folder.iterdir()
        if entry.name.endswith(".eml")
    ]
    return sorted(items)


def deliver_samples(mailbox: MaildirMailbox, folder: str = INBOX) -> int:
    """Deliver each sample once, unread, dated by its Date header. Returns how many were new."""
    delivered = 0
    for stem, raw in sample_messages():
        received = None
        header = parse_message(raw).headers.get("date", "")
        try:
            received = parsedate_to_datetime(header) if header else None
        except (TypeError, ValueError):
            received = None
        stamp = int(received.timestamp()) if received else 0
        if mailbox.deliver(
            folder, raw, name=f"{stamp}.triage-demo-{stem}.example", received=received
        ):
            delivered += 1
    return delivered


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class DraftFile:
    path: Path
    in_reply_to: str
    to: str
    subject: str
    body: str


def _drafts(mailbox: MaildirMailbox, folder: str) -> list[DraftFile]:
    if not mailbox.folder_exists(folder):
        return []
    found = []
    for uid in mailbox.search(folder):
        path = mailbox.message_path(folder, uid)
        if path is None or "\\Draft" not in flags_of(path.name):
            continue
        msg = parse_message(path.read_bytes())
        to = str(msg.to[0]) if msg.to else ""
        found.append(DraftFile(path, msg.in_reply_to, to, msg.subject, msg.body))
    return found


def _inbox(
    mailbox: MaildirMailbox, classifier: Classifier, decided: Mapping[int, tuple[Message, Decision]]
) -> list[tuple[Message, Decision]]:
    """Every INBOX message with its decision, in arrival order, for the table: what the
    pipeline decided in this run, and for mail it handled in an earlier run (`--dir` again)
    the same classifier's decision."""
    uids = mailbox.search(INBOX)
    earlier = mailbox.fetch(INBOX, [u for u in uids if u not in decided])
    messages = [parse_message(item.raw) for item in earlier]
    known = dict(decided)
    known.update(
        zip(
            (item.uid for item in earlier),
            zip(messages, classifier.classify(messages), strict=True),
            strict=True,
        )
    )
    return [known[uid] for uid in uids if uid in known]


def report(
    mailbox: MaildirMailbox,
    classifier: Classifier,
    labels: LabelSet,
    result: FolderReport,
    *,
    new_messages: int,
    seconds: float,
    kept: bool,
) -> str:
    """The table of decisions, the folders with their counts, one draft, and what to do next."""
    drafts_folder = mailbox.special_folders().drafts
    drafts = _drafts(mailbox, drafts_folder)
    drafted = {d.in_reply_to for d in drafts}
    processed = len(result.outcomes)
    decided = {
        o.uid: (o.message, o.decision)
        for o in result.outcomes
        if o.message is not None and o.decision is not None
    }
    rows = []
    inbox = _inbox(mailbox, classifier, decided)
    inbox.sort(key=lambda item: CLASS_ORDER.index(item[1].label))  # stable: arrival order within
    for msg, decision in inbox:
        wrote = "yes" if msg.message_id and msg.message_id in drafted else "-"
        rows.append(decision_row(msg, decision, wrote))
    lines = [
        f"triage demo: sample mail for {USER_NAME} <{USER_ADDRESS}>, model {classifier.version}",
        f"{new_messages} messages delivered to INBOX, {processed} processed "
        f"in {seconds:.1f} s (already processed: {len(rows) - processed})",
        "",
        table(DECISION_HEADERS, rows, DECISION_FLEXIBLE),
        "",
    ]
    root = mailbox.root
    if kept:
        lines.append(f"The sample Maildir: {root}")
    else:
        lines.append(
            "The sample Maildir (a temporary directory, removed now that the demo is over):"
        )
    folders = [
        (INBOX, "left as it was: unread, nothing moved"),
        (labels.relationship, "copies of relationship mail"),
        (labels.solicitation, "copies of solicitations"),
        (labels.drafted, "copies of the messages that got a draft"),
        (drafts_folder, "feedback drafts, flag D (draft); nothing is sent"),
    ]
    folder_rows = []
    for name, what in folders:
        path = mailbox.folder_path(name)
        where = f"{path.relative_to(root)}/" if path != root else "./"
        folder_rows.append([name, str(mailbox.count(name)), where, what])
    folder_table = table(("folder", "messages", "directory", "what"), folder_rows, (3,))
    lines += ["  " + line.rstrip() for line in folder_table.splitlines()]
    if drafts:
        sample = drafts[0]
        lines += ["", f"One of the drafts, to {sample.to}:"]
        if kept:
            lines.append(f"  {sample.path}")
        lines.append(f"  Subject: {sample.subject}")
        lines.append("")
        for paragraph in sample.body.rstrip().splitlines():
            lines += textwrap.wrap(
                paragraph, BODY_WIDTH, initial_indent="  ", subsequent_indent="  "
            ) or [""]
    lines.append("")
    if kept:
        lines += [
            "Open it in any Maildir client, e.g.:",
            f"  mutt -f {root}            (INBOX; press c to change folder)",
            f"  mutt -f {mailbox.folder_path(drafts_folder)}",
        ]
    else:
        lines.append(
            "Run `triage demo --keep` (or `triage demo --dir PATH`) to keep it and "
            "open it in a mail client such as mutt."
        )
    lines += [
        "",
        'Next: connect your own mailbox. The README\'s "Configuration" section and '
        "config.example.toml",
        "show how to add an account; `triage login NAME` stores its password in your keyring.",
    ]
    return "\n".join(lines)


def _claim(base: Path) -> None:
    """Make sure `base` is the demo's own: never deliver sample mail into a real Maildir."""
    marker = base / MARKER
    if marker.exists():
        return
    if (base / MAILDIR).exists() or (base / STATE).exists():
        raise MailboxError(
            f"{base} already holds a Maildir/ or state/ that `triage demo` did "
            "not make; give --dir a new or empty directory"
        )
    try:
        base.mkdir(parents=True, exist_ok=True)
        marker.write_text(MARKER_TEXT, encoding="utf-8")
    except OSError as exc:
        raise MailboxError(
            f"cannot create the demo directory {base}: {exc.strerror or exc}"
        ) from None


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if not getattr(args, "verbose", False):
        # The daemon reports each step on stderr; here the table below says it all.
        logging.getLogger("triage.daemon").setLevel(logging.WARNING)
    drafts = DraftsConfig(from_name=USER_NAME, addresses=(USER_ADDRESS,))
    # As `triage run` builds it from a config whose [drafts] section is the default.
    policy = DraftPolicy(enabled=drafts.enabled, min_confidence=drafts.min_confidence)
    classifier = Classifier.load(args.model, policy=policy)
    if args.dir:
        base: Path = args.dir.expanduser()
    else:
        base = Path(tempfile.mkdtemp(prefix="triage-demo-"))
    kept = bool(args.dir or args.keep)
    try:
        _claim(base)
        mailbox = MaildirMailbox(base / MAILDIR, create=True, fsync=False)
        labels = LabelNames().for_style(mailbox.label_style)
        mailbox.create_folder("Drafts")
        mailbox.create_folder("Sent")
        new_messages = deliver_samples(mailbox)
        # The daemon's own folder processing: the same code path as `triage run`.
        options = Options(
            account=ACCOUNT,
            labels=LabelNames(),
            drafts=drafts,
            user_address=USER_ADDRESS,
            user_addresses=frozenset({USER_ADDRESS}),
            backfill_days=None,
            progress=False,
        )
        with State.open(base / STATE) as state:
            result = process_folder(FolderParts(mailbox, state, classifier), options, INBOX)
        text = report(
            mailbox,
            classifier,
            labels,
            result,
            new_messages=new_messages,
            seconds=time.monotonic() - started,
            kept=kept,
        )
        mailbox.close()
    finally:
        if not kept:
            shutil.rmtree(base, ignore_errors=True)
    print(text)
    sys.stdout.flush()
    return 0
