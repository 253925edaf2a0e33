"""`triage filter`: one message on stdin to stdout with X-Triage-* headers added.

Made for procmail, maildrop, Sieve extprograms and mutt/notmuch hooks, in the manner of
`spamassassin -e` and `bogofilter -p`. The message is passed through byte for byte, except that
X-Triage-* headers already present are removed first: a sender must not be able to pre-label
their own mail. Whatever the input, the exit code is 0 and something is written. A running
`triage serve` answers in a few milliseconds (triage.filter.client); without one the message
is classified in this process.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from triage.filter.client import ask_server, model_key

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see run_bare)
if TYPE_CHECKING:
    import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from triage.commands.common import add_model_argument

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


def add_headers(raw: bytes, headers: list[tuple[str, str]]) -> list[bytes | memoryview]:
    """The output, as pieces to write in order: the input less forged X-Triage-* header lines
    (and their continuations), with ours at the end of the header block in the line ending of
    the blank line after it (or of the last header line). Lines end at LF, so each keeps its
    own CR: mixed endings survive as they are. Pieces of the input are views of it, never
    copies: a 65 MB message costs 65 MB once."""
    view, size = memoryview(raw), len(raw)
    start = raw.find(b"\n") + 1 if raw.startswith(b"From ") else 0  # an mbox From_ line
    kept: list[tuple[int, int]] = []  # byte ranges of the header lines kept, with their LF
    pos, forged, ending = start, False, b""
    while pos < size:
        stop = raw.find(b"\n", pos)
        stop = size if stop < 0 else stop
        line = raw[pos : min(stop, pos + 256)]  # enough to read a header's name
        if line in (b"", b"\r"):  # the blank line: the header block ends here
            ending = line
            break
        if line[:1] not in (b" ", b"\t"):  # not a continuation: a header of its own
            forged = _forged(line)
        if not forged:
            kept.append((pos, min(stop + 1, size)))
        ending = raw[stop - 1 : stop] if stop > pos else b""
        pos = stop + 1
    newline = b"\r\n" if ending.endswith(b"\r") else b"\n"
    block = b"".join(f"{k}: {v}".encode("ascii", "replace") + newline for k, v in headers)
    body = [view[pos:]] if pos < size else []
    lines = [view[a:b] for a, b in kept]
    if pos > size or (pos == size and not raw.endswith(b"\n")):
        # No blank line and no final line break: headers only, or no header block at all.
        # Ours go first (after an mbox From_ line), so that no byte is added to the last line.
        return [view[:start], block, *lines]
    return [view[:start], *lines, block, *body]


def run_bare(argv: Sequence[str]) -> int | None:
    """`triage filter [--model FILE]` without the command-line parser: a running `triage serve`
    answers before argparse and logging are even imported (a third of a served filter's time),
    and without one the message is classified here, as `run` would. None when the arguments
    are anything else, for the parser to handle."""
    if list(argv[:1]) == ["--model"] and len(argv) == 2:
        model: str | None = argv[1]
    elif not argv:
        model = None
    else:
        return None
    raw = sys.stdin.buffer.read()
    headers = ask_server(raw, model_key(model))
    if headers is None:
        import argparse
        from pathlib import Path

        from triage.cli import configure_logging

        configure_logging(verbose=False)
        options = argparse.Namespace(model=Path(model) if model else None)
        headers = _classified_here(raw, options)
    _write(raw, headers)
    return 0


def run(args: argparse.Namespace) -> int:
    import logging

    raw = sys.stdin.buffer.read()
    headers = ask_server(raw, model_key(args.model))
    if headers is not None:
        logging.getLogger(__name__).debug("answered by triage serve")
    else:
        headers = _classified_here(raw, args)
    _write(raw, headers)
    return 0


def _classified_here(raw: bytes, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The headers when no server of ours answered: numpy and the model are loaded only now."""
    from triage.commands.common import load_classifier
    from triage.filter.server import headers_for

    return headers_for(lambda: load_classifier(args), raw)


def _write(raw: bytes, headers: list[tuple[str, str]]) -> None:
    out = sys.stdout.buffer
    for piece in add_headers(raw, headers):
        out.write(piece)
    out.flush()
