"""`triage filter`: one message on stdin to stdout with X-Triage-* headers added.

Made for procmail, maildrop, Sieve extprograms and mutt/notmuch hooks, in the manner of
`spamassassin -e` and `bogofilter -p`. The message is passed through byte for byte, except that
X-Triage-* headers already present are removed first: a sender must not be able to pre-label
their own mail. Whatever the input, the exit code is 0 and something is written.
"""

from __future__ import annotations

import argparse
import logging
import sys

from triage.commands.common import add_model_argument, load_classifier
from triage.message import parse_message

log = logging.getLogger(__name__)


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


def _forged(line: bytes) -> bool:
    """A header line a mail server would read as one of ours: "X-Triage-Class : x" included,
    since servers (and Sieve rules on them) trim the blanks before the colon."""
    name, colon, _value = line.partition(b":")
    return bool(colon) and name.rstrip(b" \t").lower().startswith(b"x-triage-")


def add_headers(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    """Drop forged X-Triage-* header lines (and their continuations) and add ours at the end of
    the header block, in the line ending of the header line before them; every other byte
    stays. Lines are split at LF only, so each keeps its CR: mixed endings survive as they
    are."""
    lines = raw.split(b"\n")
    start = 1 if raw.startswith(b"From ") and len(lines) > 1 else 0  # an mbox From_ line
    kept, forged, end = lines[:start], False, start
    while end < len(lines) and lines[end] not in (b"", b"\r"):
        line = lines[end]
        if line[:1] not in (b" ", b"\t"):  # not a continuation: a header of its own
            forged = _forged(line)
        if not forged:
            kept.append(line)
        end += 1
    before = lines[end - 1] if end > start else lines[start] if start < len(lines) else b""
    newline = b"\r\n" if before.endswith(b"\r") else b"\n"
    block = b"".join(f"{k}: {v}".encode("ascii", "replace") + newline for k, v in headers)
    if end == len(lines):
        # No blank line: headers only, or no header block at all. Ours go first (after an
        # mbox From_ line), so that no byte has to be added to the input's last line.
        head = b"".join(line + b"\n" for line in kept[:start])
        return head + block + b"\n".join(kept[start:])
    return b"".join(line + b"\n" for line in kept) + block + b"\n".join(lines[end:])


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
