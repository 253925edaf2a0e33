"""`triage classify`: classify .eml files, directories, mbox files or stdin, offline."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Iterator

from triage.commands.common import add_account_arguments, add_model_argument, load_classifier
from triage.commands.inputs import KINDS_READ, iter_messages
from triage.commands.render import (
    DECISION_FLEXIBLE,
    DECISION_HEADERS,
    decision_record,
    decision_row,
    table,
)
from triage.decide.policy import Decision
from triage.errors import MessageParseError, TriageError
from triage.message.parse import Message, parse_message
from triage.model.classifier import Classifier

log = logging.getLogger(__name__)
BATCH = 256


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify messages from files, directories, mbox or stdin",
        description="Classify messages as relationship, solicitation or other. PATH is an .eml "
        "file, a directory of them (recursive), an mbox file, or - for stdin. Needs no "
        "network; without --config/--account it reads no config and uses the shipped model, "
        "with them the account's personal model (`triage learn`) and the config's [lists].",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--json", action="store_true", help="one JSON object per message per line")
    parser.add_argument(
        "--explain", action="store_true", help="list the evidence behind each decision"
    )
    add_model_argument(parser)
    add_account_arguments(parser)
    parser.set_defaults(func=run)


def classify_stream(
    classifier: Classifier, items: Iterable[tuple[str, bytes]]
) -> Iterator[tuple[str, Message | None, Decision | None, str]]:
    """(path, message, decision, error) in input order, classified in batches for speed."""
    pending: list[tuple[str, Message]] = []

    def flush() -> Iterator[tuple[str, Message | None, Decision | None, str]]:
        decisions = classifier.classify([m for _p, m in pending])
        for (path, msg), decision in zip(pending, decisions, strict=True):
            yield path, msg, decision, ""
        pending.clear()

    for path, raw in items:
        try:
            pending.append((path, parse_message(raw)))
        except MessageParseError as exc:
            yield from flush()
            yield path, None, None, str(exc)
            continue
        if len(pending) >= BATCH:
            yield from flush()
    yield from flush()


def run(args: argparse.Namespace) -> int:
    classifier = load_classifier(args)
    rows: list[list[str]] = []
    failures = classified = 0
    for path, msg, decision, error in classify_stream(classifier, iter_messages(args.paths)):
        if error or msg is None or decision is None:
            failures += 1
            print(f"triage: {path}: {error}", file=sys.stderr)  # the one error format
            if args.json:
                print(json.dumps({"path": path, "label": "error", "error": error}))
            continue
        classified += 1
        if args.json:
            record = decision_record(path, msg, decision)
            if args.explain:
                record["evidence"] = [
                    {"feature": e.feature, "weight": e.weight} for e in decision.evidence
                ]
            print(json.dumps(record, ensure_ascii=False))
        elif args.explain:
            print(f"{path}\n  {decision.label} ({decision.confidence:.2f})")
            for line in decision.reasons:
                print(f"  - {line}")
        else:
            rows.append(decision_row(msg, decision))
    if rows:
        print(table(DECISION_HEADERS, rows, DECISION_FLEXIBLE))
    sys.stdout.flush()
    if not classified and not failures:
        raise TriageError(f"no message found in {', '.join(args.paths)}; each PATH is {KINDS_READ}")
    log.info(
        "%d message%s classified, %d could not be read",
        classified,
        "" if classified == 1 else "s",
        failures,
    )
    return 1 if failures else 0
