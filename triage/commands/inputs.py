"""Where `classify`, `explain` and `evaluate` get raw messages: files, directories, mbox, stdin.

Reads are bounded: only the first `MAX_PARSE_BYTES` (plus one, to notice truncation) of any
file are read, so a 50 MB message costs a megabyte, not fifty.
"""

from __future__ import annotations

import mailbox
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from triage.errors import TriageError
from triage.message.parse import MAX_PARSE_BYTES

READ_LIMIT = MAX_PARSE_BYTES + 1
# What a PATH argument may name, for the message that says nothing was found.
KINDS_READ = (
    "an .eml file, an mbox file, a directory (searched for .eml files and Maildir "
    "cur/ and new/ folders), or - for standard input"
)


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(READ_LIMIT)
    except OSError as exc:
        raise TriageError(f"cannot read {path}: {exc.strerror}") from None


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _in_maildir(path: Path) -> bool:
    return path.parent.name in ("cur", "new")


def _from_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(path, create=False)
    try:
        for index, key in enumerate(box.keys()):
            yield f"{path}:{index + 1}", box.get_bytes(key)[:READ_LIMIT]
    finally:
        box.close()


def _from_directory(directory: Path) -> Iterator[tuple[str, bytes]]:
    for path in files_under(directory):
        if path.suffix.lower() == ".eml" or _in_maildir(path):
            yield str(path), _read_file(path)


def files_under(directory: Path) -> Iterator[Path]:
    """Every file below `directory`, in the order of sorted(directory.rglob("*")), listed with
    os.scandir: a directory entry says whether it is a file without a stat call each."""
    with os.scandir(directory) as found:
        entries = sorted(found, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from files_under(Path(entry.path))
        elif entry.is_file():
            yield Path(entry.path)


def iter_messages(
    paths: Sequence[str], stdin: BinaryIO | None = None
) -> Iterator[tuple[str, bytes]]:
    """(label for output, raw bytes) for every message named by the arguments, in order."""
    for arg in paths:
        if arg == "-":
            yield "-", (stdin or sys.stdin.buffer).read(READ_LIMIT)
            continue
        path = Path(arg)
        if path.is_dir():
            yield from _from_directory(path)
        elif path.is_file():
            if _is_mbox(path):
                yield from _from_mbox(path)
            else:
                yield str(path), _read_file(path)
        else:
            raise TriageError(f"{arg}: no such file or directory")
