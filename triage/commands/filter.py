"""`triage filter`: one message on stdin to stdout with X-Triage-* headers added.

Made for procmail, maildrop, Sieve extprograms and mutt/notmuch hooks, in the manner of
`spamassassin -e` and `bogofilter -p`. The message is passed through byte for byte, except that
X-Triage-* headers already present are removed first: a sender must not be able to pre-label
their own mail. Whatever the input, the exit code is 0 and something is written.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys

from triage.commands.common import add_model_argument, load_classifier
from triage.message import parse_message

log = logging.getLogger(__name__)
_OURS = re.compile(rb"(?im)^x-triage-[a-z-]*:.*(?:\r?\n[ \t].*)*(?:\r?\n|\Z)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "filter",
        help="read one message on stdin, write it to stdout with X-Triage headers",
        description="Classify one message from stdin and write it to stdout with X-Triage-Class, "
        "X-Triage-Score and X-Triage-Offenses headers added; the rest is unchanged. Unparseable "
        "input passes through with X-Triage-Class: error. Always exits 0.",
    )
    add_model_argument(parser)
    parser.set_defaults(func=run)


def add_headers(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    """Insert headers at the end of the header block, in the message's own line endings."""
    newline = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    block = b"".join(f"{k}: {v}".encode("ascii", "replace") + newline for k, v in headers)
    end = raw.find(newline + newline)
    if end < 0:
        # Headers only, or no header block at all: put ours first, after an mbox From_ line,
        # and still drop forged ones.
        start = raw.find(newline) + len(newline) if raw.startswith(b"From ") else 0
        return raw[:start] + block + _OURS.sub(b"", raw[start:])
    head = _OURS.sub(b"", raw[: end + len(newline)])
    return head + block + raw[end + len(newline):]


def run(args: argparse.Namespace) -> int:
    raw = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    try:
        msg = parse_message(raw)  # reads only the first megabyte; all of it passes through
        decision = load_classifier(args).classify([msg])[0]
        headers = [
            ("X-Triage-Class", decision.label),
            ("X-Triage-Score", f"{decision.confidence:.3f}"),
            ("X-Triage-Offenses", ", ".join(decision.offenses) or "none"),
        ]
    except Exception as exc:  # noqa: BLE001 - a filter must never lose mail
        log.error("classification failed: %s", exc)
        headers = [("X-Triage-Class", "error")]
    out.write(add_headers(raw, headers))
    out.flush()
    return 0
