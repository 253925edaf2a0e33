"""`triage explain`: why a message got its class, in words a user can check."""

from __future__ import annotations

import argparse

from triage.commands.common import add_model_argument, load_classifier
from triage.errors import TriageError
from triage.inputs import iter_messages
from triage.message import Message, parse_message
from triage.policy import OFFENSE_NAMES, Decision

_SIGN = {True: "+", False: "-"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show why a message got its class",
        description="Explain a decision: the class probabilities, the strongest evidence with "
        "its weight, the offenses found, and whether a feedback draft would be written and "
        "why (not).",
    )
    parser.add_argument("path", metavar="PATH", help="an .eml file, an mbox, or - for stdin")
    add_model_argument(parser)
    parser.set_defaults(func=run)


def describe(msg: Message, decision: Decision) -> str:
    sender = str(msg.sender) if msg.sender else "(no sender)"
    lines = [
        f"From:    {sender}",
        f"Subject: {msg.subject or '(no subject)'}",
        "",
        f"Class: {decision.label} (confidence {decision.confidence:.2f})",
        "  " + "   ".join(f"{label} {score:.2f}" for label, score in
                          sorted(decision.scores.items(), key=lambda kv: -kv[1])),
    ]
    if msg.platform:
        note = msg.new_text.strip()
        lines.append(f"  judged by the personal note of this {msg.platform} notification: "
                     + (f'"{note[:160]}"' if note else "there is none"))
    lines += ["", f"What pushed it towards {decision.label} (strongest first):"]
    if not decision.evidence:
        lines.append("  nothing stands out; the decision rests on many small cues")
    for item in decision.evidence:
        kind = "signal" if item.feature.startswith("signal:") else "wording"
        text = item.description if kind == "signal" else f'"{item.description}"'
        lines.append(f"  {_SIGN[item.weight > 0]}{item.weight:.2f}  {kind:<8} {text}")
    context = [r for r in decision.reasons if r.startswith("you have written")]
    if context:
        lines += ["", "Sender: " + context[0]]
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


def run(args: argparse.Namespace) -> int:
    classifier = load_classifier(args)
    items = list(iter_messages([args.path]))
    if not items:
        raise TriageError(f"{args.path}: no message found")
    for index, (path, raw) in enumerate(items):
        msg = parse_message(raw)
        if index:
            print("\n" + "=" * 72 + "\n")
        if len(items) > 1:
            print(path)
        print(describe(msg, classifier.classify([msg])[0]))
    return 0
