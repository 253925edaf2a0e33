"""Maildir++ on disk, below the `MaildirMailbox` adapter: file names and their flags, the
per-folder UID list (`triage-uidlist`, see `triage.mail.maildir`) and message headers read from
files."""

from __future__ import annotations

import itertools
import logging
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from triage.errors import MailboxError

log = logging.getLogger(__name__)

UIDLIST = "triage-uidlist"
UIDLIST_HEADER = "triage-uidlist 1"
SUBDIRS = ("cur", "new", "tmp")
MAX_HEADER_BYTES = 256 * 1024

# IMAP system flags <-> Maildir info letters (https://cr.yp.to/proto/maildir.html).
FLAG_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
LETTER_FLAGS = {letter: flag for flag, letter in FLAG_LETTERS.items()}

_MBSYNC_UID = re.compile(r",U=\d+")
_counter = itertools.count(1)


def base_name(file_name: str) -> str:
    """The part of a Maildir file name that stays the same while flags change."""
    unique = file_name.split(":", 1)[0]
    return _MBSYNC_UID.sub("", unique)


def flags_of(file_name: str) -> frozenset[str]:
    """IMAP flags from the `:2,` info of a file name (files in new/ have none)."""
    _unique, sep, info = file_name.partition(":2,")
    if not sep:
        return frozenset()
    return frozenset(LETTER_FLAGS[c] for c in info if c in LETTER_FLAGS)


def info_of(flags: Iterable[str]) -> str:
    """The `:2,` info letters for IMAP flags, in ASCII order as the spec asks."""
    letters = set()
    for flag in flags:
        letter = FLAG_LETTERS.get(flag) or FLAG_LETTERS.get(flag.capitalize())
        if letter:
            letters.add(letter)
        else:
            log.debug("maildir: flag %r has no Maildir letter; not stored", flag)
    return "".join(sorted(letters))


def unique_name() -> str:
    """A new file name per the Maildir spec: time, microseconds, pid, counter, host."""
    now = time.time()
    host = socket.gethostname() or "localhost"
    host = host.replace("/", "\\057").replace(":", "\\072")
    return f"{int(now)}.M{int(now % 1 * 1_000_000)}P{os.getpid()}Q{next(_counter)}.{host}"


def is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in SUBDIRS)


@dataclass(frozen=True)
class Entry:
    uid: int
    path: Path

    @property
    def flags(self) -> frozenset[str]:
        return flags_of(self.path.name)


@dataclass
class UidList:
    uidvalidity: int
    uidnext: int
    uids: dict[str, int]  # base name -> uid


def file_names(path: Path) -> Iterator[str]:
    for sub in ("new", "cur"):
        try:
            names = os.listdir(path / sub)
        except FileNotFoundError:
            continue
        for name in names:
            if not name.startswith("."):
                yield name


def scan(path: Path) -> dict[str, Path]:
    """base name -> current file; cur/ wins over new/ while a client is moving a file."""
    found: dict[str, Path] = {}
    for sub in ("new", "cur"):
        try:
            names = os.listdir(path / sub)
        except OSError as exc:
            raise MailboxError(f"cannot read {path / sub}: {exc.strerror or exc}") from None
        for name in names:
            if not name.startswith("."):
                found[base_name(name)] = path / sub / name
    return found


def sync(path: Path) -> tuple[UidList, list[Entry]]:
    """Read the folder and its UID list; give new files UIDs and persist the list."""
    uidlist = _load_uidlist(path)
    files = scan(path)
    changed = False
    for key in [k for k in uidlist.uids if k not in files]:
        del uidlist.uids[key]  # expunged by someone else; its UID is never reused
        changed = True
    fresh = [k for k in files if k not in uidlist.uids]
    if fresh:
        fresh.sort(key=lambda k: (mtime(files[k]), k))
        for key in fresh:
            uidlist.uids[key] = uidlist.uidnext
            uidlist.uidnext += 1
        changed = True
    if changed:
        _save_uidlist(path, uidlist)
    entries = sorted((Entry(uid, files[k]) for k, uid in uidlist.uids.items()), key=lambda e: e.uid)
    return uidlist, entries


def _load_uidlist(path: Path) -> UidList:
    file = path / UIDLIST
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _new_uidlist(path, "")
    except (OSError, UnicodeDecodeError) as exc:
        return _new_uidlist(path, f"unreadable ({exc})")
    try:
        lines = text.splitlines()
        if lines[0] != UIDLIST_HEADER:
            raise ValueError("unknown format")
        fields = dict(line.split(" ", 1) for line in lines[1:3])
        uidvalidity, uidnext = int(fields["uidvalidity"]), int(fields["uidnext"])
        uids: dict[str, int] = {}
        for line in lines[3:]:
            if line:
                uid, key = line.split(" ", 1)
                uids[key] = int(uid)
        if uidvalidity <= 0 or any(u <= 0 or u >= uidnext for u in uids.values()):
            raise ValueError("inconsistent UIDs")
    except (ValueError, KeyError, IndexError) as exc:
        old = re.search(r"(?m)^uidvalidity (\d{1,10})$", text)
        return _new_uidlist(path, f"damaged ({exc})", int(old[1]) if old else 0)
    return UidList(uidvalidity, uidnext, uids)


def _new_uidlist(path: Path, problem: str, old_uidvalidity: int = 0) -> UidList:
    # Like Dovecot: the time, and always a different value from the list it replaces.
    uidvalidity = max(int(time.time()), old_uidvalidity + 1) % 2**32 or 1
    if problem:
        log.warning(
            "maildir: %s is %s; numbering the folder anew (UIDVALIDITY %d)",
            path / UIDLIST,
            problem,
            uidvalidity,
        )
    return UidList(uidvalidity, 1, {})


def _save_uidlist(path: Path, uidlist: UidList) -> None:
    lines = [UIDLIST_HEADER, f"uidvalidity {uidlist.uidvalidity}", f"uidnext {uidlist.uidnext}"]
    lines += [f"{uid} {key}" for key, uid in sorted(uidlist.uids.items(), key=lambda kv: kv[1])]
    temp = path / f".{UIDLIST}.{os.getpid()}.tmp"
    try:
        temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(temp, path / UIDLIST)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise MailboxError(f"cannot write {path / UIDLIST}: {exc.strerror or exc}") from None


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def header_end(data: bytes) -> int:
    """Offset just past the blank line that ends the header, or -1."""
    match = re.search(rb"\r?\n\r?\n", data)
    return match.end() if match else -1


def read_header(path: Path) -> bytes | None:
    """The header block of a message file (None when the file has gone)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_HEADER_BYTES)
    except FileNotFoundError:
        return None
    end = header_end(data)
    return data[:end] if end >= 0 else data


def select_fields(head: bytes, names: Sequence[str]) -> bytes:
    """The lines of the named fields (lower-case names), continuation lines included."""
    kept: list[bytes] = []
    keep = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        keep = b":" in line and name in names
        if keep:
            kept.append(line)
    return b"".join(kept)
