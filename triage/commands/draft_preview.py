"""`triage drafts --preview`: the feedback draft triage would write for each message, offline.

No account, no network, nothing stored: the messages are classified as `triage classify`
does (with `--config`, as the daemon does for that account, with its addresses, draft settings
and wording; without, the first To of each message is taken to be you), and each one that
would get a draft is shown as the letter; the others say why not.
What the daemon also knows and a preview cannot (whether you have written to the sender,
whether they had a draft recently) is left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from triage.commands.classify import classify_stream
from triage.commands.common import load_classifier, pick_account, wants_config
from triage.commands.inputs import iter_messages
from triage.config import DraftsConfig, load_config
from triage.decide.policy import DRAFTS_OFF, Decision
from triage.errors import DraftError
from triage.letters.replies import build_draft, user_templates_dir
from triage.message.parse import Message

PREVIEW_NAME = "(your name)"  # the signature of a preview made without a config


def preview(args: argparse.Namespace) -> int:
    drafts, address, templates = DraftsConfig(from_name=PREVIEW_NAME), "", None
    if wants_config(args):
        from triage.daemon.options import user_addresses

        config = load_config(args.config)
        account = config.account(pick_account(config, args.account))
        drafts = config.drafts
        address = user_addresses(account, drafts)[0]
        templates = user_templates_dir(config)
    classifier = load_classifier(args)
    shown = 0
    for path, msg, decision, error in classify_stream(classifier, iter_messages(args.preview)):
        if shown:
            print()
        shown += 1
        print(f"== {path}")
        if error or msg is None or decision is None:
            print(f"triage: {path}: {error}", file=sys.stderr)
            continue
        # without a config, the message's first To is taken to be you
        you = address or (msg.to[0].addr if msg.to else "you@example.org")
        print(_letter(msg, decision, drafts, you, templates))
    return 0


def _letter(
    msg: Message, decision: Decision, drafts: DraftsConfig, address: str, templates: Path | None
) -> str:
    turned_off = decision.no_draft_because == DRAFTS_OFF
    if not decision.draft and not turned_off:
        why = decision.no_draft_because or (
            f"it is {decision.label}"
            if decision.label != "solicitation"
            else "no offense a draft would be about"
        )
        return f"no draft: {why} ({decision.label}, {decision.confidence:.2f})"
    try:
        draft = build_draft(msg, decision, drafts, address, templates_dir=templates)
    except DraftError as exc:
        return f"no draft: {exc}"
    note = (
        "(drafts are turned off in your config; this is what would be written)\n"
        if turned_off
        else ""
    )
    return (
        f"{note}To: {draft.to}\nSubject: {draft.subject}\n"
        f"Offenses: {', '.join(decision.offenses)}\n\n{draft.letter.text.rstrip()}"
    )
