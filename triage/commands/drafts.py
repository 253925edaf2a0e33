"""`triage drafts`: the feedback drafts triage wrote, and what became of each (`--preview`:
the drafts it would write, offline; triage.commands.draft_preview).

Each draft recorded in the state database is looked up in the account's mailbox (read-only):

- `in Drafts`: still waiting in the Drafts folder (found by its Message-ID);
- `sent`: found in the Sent folder, by its Message-ID or as a reply to the original message
  (mail clients often give the sent copy a new Message-ID);
- `discarded`: in neither (the user deleted it). triage never writes it again.

Drafts that were planned but not yet written (the daemon was stopped midway) show as
`pending`; drafts that could not be written show as `failed`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass

from triage.commands.common import add_model_argument
from triage.commands.render import table
from triage.config import Account, Config, add_config_argument, load_config
from triage.errors import MailboxError, TriageError
from triage.mail.protocol import HeaderSearch, Mailbox
from triage.mail.signin import Connector
from triage.store.records import DraftRecord
from triage.store.schema import db_path
from triage.store.state import State

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "drafts",
        help="list the feedback drafts written: still in Drafts, sent, or discarded",
        description="List the feedback drafts triage wrote, with the state of each: still in "
        "Drafts, sent (found in Sent), or discarded. Looks in the mailbox read-only.",
    )
    add_config_argument(parser)
    parser.add_argument("--account", metavar="NAME", help="only this account")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="do not connect; show only what the state database knows",
    )
    parser.add_argument(
        "--preview",
        nargs="+",
        metavar="PATH",
        help="show the draft triage would write for each message (.eml files, "
        "directories, mbox), or why none; no account or network needed",
    )
    add_model_argument(parser)
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class DraftState:
    record: DraftRecord
    state: str


def draft_states(mailbox: Mailbox, records: list[DraftRecord]) -> list[DraftState]:
    """Where each written draft is now."""
    special = mailbox.special_folders()
    if not isinstance(mailbox, HeaderSearch):
        raise MailboxError("this mailbox cannot search by header")
    result = []
    for record in records:
        if record.status != "written":
            result.append(
                DraftState(record, "pending" if record.status == "planned" else record.status)
            )
            continue
        drafts_folder = record.drafts_folder or special.drafts
        if drafts_folder and mailbox.find_message_id(drafts_folder, record.draft_message_id):
            result.append(DraftState(record, "in Drafts"))
            continue
        sent = special.sent
        if sent and (
            mailbox.find_message_id(sent, record.draft_message_id)
            or (
                record.original_message_id
                and mailbox.find_replies(sent, record.original_message_id)
            )
        ):
            result.append(DraftState(record, "sent"))
            continue
        result.append(DraftState(record, "discarded"))
    return result


def _check_account(account: Account, records: list[DraftRecord]) -> list[DraftState]:
    try:
        mailbox = Connector(readonly=True)(account)
    except TriageError as exc:
        log.warning("%s: cannot look in the mailbox: %s", account.name, exc)
        return [DraftState(r, "unknown") for r in records]
    try:
        return draft_states(mailbox, records)
    except MailboxError as exc:
        log.warning("%s: cannot look in the mailbox: %s", account.name, exc)
        return [DraftState(r, "unknown") for r in records]
    finally:
        mailbox.close()


def collect(config: Config, account_name: str | None, offline: bool) -> list[DraftState]:
    path = db_path(config.state_dir)
    if not path.exists():
        return []
    with State(path, readonly=True) as state:
        records = state.drafts(account_name)
    by_account: dict[str, list[DraftRecord]] = {}
    for record in records:
        by_account.setdefault(record.account, []).append(record)
    states: list[DraftState] = []
    for name, items in by_account.items():
        if offline:
            states += [
                DraftState(
                    r,
                    "written"
                    if r.status == "written"
                    else "pending"
                    if r.status == "planned"
                    else r.status,
                )
                for r in items
            ]
            continue
        try:
            account = config.account(name)
        except TriageError:
            states += [DraftState(r, "unknown") for r in items]
            continue
        states += _check_account(account, items)
    states.sort(key=lambda s: s.record.created_at)
    return states


def run(args: argparse.Namespace) -> int:
    if args.preview:
        from triage.commands.draft_preview import preview

        return preview(args)
    config = load_config(args.config)
    if args.account:
        config.account(args.account)  # an unknown name is a clear error
    states = collect(config, args.account, args.offline)
    if args.json:
        for s in states:
            r = s.record
            print(
                json.dumps(
                    {
                        "account": r.account,
                        "folder": r.folder,
                        "to": r.sender,
                        "subject": r.subject,
                        "original_message_id": r.original_message_id,
                        "draft_message_id": r.draft_message_id,
                        "created_at": r.created_at.isoformat(timespec="seconds"),
                        "state": s.state,
                    },
                    ensure_ascii=False,
                )
            )
        return 0
    if not states:
        print("no feedback drafts written yet")
        return 0
    rows = [
        [
            f"{s.record.created_at.astimezone():%Y-%m-%d %H:%M}",
            s.record.account,
            s.record.sender,
            s.record.subject or "-",
            s.state,
        ]
        for s in states
    ]
    print(table(("written", "account", "to", "original subject", "state"), rows, (2, 3)))
    counts: dict[str, int] = {}
    for s in states:
        counts[s.state] = counts.get(s.state, 0) + 1
    print("\n" + ", ".join(f"{n} {state}" for state, n in counts.items()))
    sys.stdout.flush()
    return 0
