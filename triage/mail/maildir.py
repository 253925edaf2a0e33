"""The Maildir adapter: the embedded demo's mailbox, and mail synced by mbsync or offlineimap.

Layout is Maildir++, as Dovecot, mbsync (`SubFolders Maildir++`) and offlineimap use it: INBOX
is the root's `cur/`, `new/` and `tmp/`; every other folder is a directory `.Name` beside them,
with `.` separating levels (`Triage/Relationship` lives in `.Triage.Relationship`). Folder names
given to this adapter may use `/` or `.` between levels; they are reported with `/`, the way the
config names labels.

UIDs, which IMAP gives for free, are kept in a small file of our own per folder, `triage-uidlist`
next to `cur/` (where Dovecot keeps its `dovecot-uidlist`): UIDVALIDITY, the next UID, and
`uid base-name` lines. A message's base name is its file name up to the `:2,` info, with mbsync's
`,U=n` taken out, so a mail client reading a message (new/ -> cur/, `:2,S`) or mbsync renaming it
keeps its UID. New files get increasing UIDs in arrival order (file mtime, which is also the
INTERNALDATE, as in Dovecot); UIDs are never reused. A missing or damaged list starts over with a
new UIDVALIDITY, which tells the daemon to re-match messages by Message-ID.

Besides the `Mailbox` protocol this backend has the optional `HeaderSearch` abilities
(find by Message-ID, find replies, fetch chosen header fields), which read header blocks only.

Safety, as in the IMAP adapter: existing message files are never written, renamed, moved
(reading leaves new/ alone, so nothing becomes \\Seen) or deleted. Labels are copies into
folders, made once: a copy keeps the original's base name (and its flags and date), and a folder
that already holds the base name or the Message-ID gets no second copy. `append` writes to
`tmp/` and renames into `cur/` (or `new/` when there are no flags), which is atomic.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from triage.errors import MailboxError
from triage.mail.maildir_files import (
    MAX_HEADER_BYTES,
    SUBDIRS,
    Entry,
    base_name,
    file_names,
    header_end,
    info_of,
    is_maildir,
    read_header,
    scan,
    select_fields,
    sync,
    unique_name,
)
from triage.mail.message_ids import ids_in, message_id_in
from triage.mail.protocol import FetchedMessage, FolderStatus, LabelStyle, SpecialFolders

log = logging.getLogger(__name__)

INBOX = "INBOX"
FOLDER_MARKER = "maildirfolder"  # Maildir++: marks a subfolder (Dovecot and Courier write it)

# Like the IMAP adapter's BODY.PEEK: the whole header plus this much of the body.
FETCH_BODY_BYTES = 256 * 1024


DRAFTS_NAMES = ("Drafts", "Draft")
SENT_NAMES = ("Sent", "Sent Messages", "Sent Items", "Sent Mail", "[Gmail]/Sent Mail")

_BAD_COMPONENT = re.compile(r"[\x00-\x1f\x7f\\]")


class MaildirMailbox:
    """A Maildir++ tree as a `Mailbox`. Labels are copies into folders."""

    def __init__(
        self,
        root: Path | str,
        *,
        create: bool = False,
        body_bytes: int = FETCH_BODY_BYTES,
        fsync: bool = True,
    ) -> None:
        """`create` makes the root Maildir when missing; `fsync=False` skips flushing new
        files to disk (the demo's throwaway mailbox), which the Maildir spec otherwise asks."""
        self.root = Path(root).expanduser()
        self.body_bytes = body_bytes
        self.fsync = fsync
        self._message_ids: dict[Path, set[str]] = {}
        if create:
            self._make_maildir(self.root, subfolder=False)
        elif not is_maildir(self.root):
            raise MailboxError(f"{self.root} is not a Maildir (it needs cur/, new/ and tmp/)")

    def __repr__(self) -> str:
        return f"MaildirMailbox({str(self.root)!r})"

    # -- folders -----------------------------------------------------------------------------

    @property
    def label_style(self) -> LabelStyle:
        return "folders"

    def folder_path(self, folder: str) -> Path:
        """The directory of a folder: INBOX is the root, `A/B` (or `A.B`) is `.A.B`."""
        name = folder.strip()
        if name.upper() == INBOX:
            return self.root
        for prefix in ("INBOX/", "INBOX."):
            if name.upper().startswith(prefix):
                name = name[len(prefix) :]
        parts = re.split(r"[/.]", name)
        if not name or any(not p or p != p.strip() or _BAD_COMPONENT.search(p) for p in parts):
            raise MailboxError(f"invalid Maildir folder name {folder!r}")
        return self.root / ("." + ".".join(parts))

    def folder_exists(self, folder: str) -> bool:
        return is_maildir(self.folder_path(folder))

    def list_folders(self) -> list[str]:
        """INBOX first, then every Maildir++ subfolder by name, levels separated by `/`."""
        names = []
        for child in self.root.iterdir():
            if child.name.startswith(".") and child.name not in (".", "..") and is_maildir(child):
                names.append(child.name[1:].replace(".", "/"))
        return [INBOX, *sorted(names)]

    def create_folder(self, folder: str) -> Path:
        path = self.folder_path(folder)
        self._make_maildir(path, subfolder=path != self.root)
        return path

    def special_folders(self) -> SpecialFolders:
        """Drafts and Sent by their usual names. Drafts is always given (append creates it)."""
        drafts = next((n for n in DRAFTS_NAMES if self.folder_exists(n)), DRAFTS_NAMES[0])
        sent = next((n for n in SENT_NAMES if self.folder_exists(n)), "")
        return SpecialFolders(drafts=drafts, sent=sent)

    def open_folder(self, folder: str) -> FolderStatus:
        path = self._existing(folder)
        uidlist, _entries = sync(path)
        return FolderStatus(uidvalidity=uidlist.uidvalidity, uidnext=uidlist.uidnext)

    # -- reading -----------------------------------------------------------------------------

    def search(self, folder: str, *, min_uid: int = 1, since: date | None = None) -> list[int]:
        _uidlist, entries = sync(self._existing(folder))
        uids = []
        for entry in entries:
            if entry.uid < min_uid:
                continue
            if since is not None:
                received = self._internal_date(entry.path)
                if received is None or received.astimezone().date() < since:
                    continue
            uids.append(entry.uid)
        return uids

    def fetch(self, folder: str, uids: Sequence[int]) -> list[FetchedMessage]:
        _uidlist, entries = sync(self._existing(folder))
        by_uid = {e.uid: e for e in entries}
        fetched = []
        for uid in sorted(set(uids)):
            entry = by_uid.get(uid)
            if entry is None:
                continue
            try:
                raw = self._read_capped(entry.path)
            except FileNotFoundError:
                # A mail client moved it (new/ -> cur/) or expunged it since the scan.
                entry = self._refind(entry)
                if entry is None:
                    continue
                raw = self._read_capped(entry.path)
            fetched.append(
                FetchedMessage(
                    uid=uid,
                    raw=raw,
                    flags=entry.flags,
                    internal_date=self._internal_date(entry.path),
                )
            )
        return fetched

    # -- HeaderSearch: reading headers only, as IMAP SEARCH HEADER / BODY.PEEK[HEADER.FIELDS]

    def find_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs of the messages with exactly this Message-ID ([] when the folder is absent)."""
        wanted = message_id.strip()
        if not wanted:
            return []
        return [uid for uid, head in self._headers(folder) if message_id_in(head) == wanted]

    def find_replies(self, folder: str, message_id: str) -> list[int]:
        """UIDs of the messages whose In-Reply-To or References name `message_id`."""
        wanted = message_id.strip()
        if not wanted:
            return []
        found = []
        for uid, head in self._headers(folder):
            fields = select_fields(head, ("in-reply-to", "references"))
            if wanted in ids_in(fields):
                found.append(uid)
        return found

    def fetch_headers(
        self, folder: str, uids: Sequence[int], names: Sequence[str]
    ) -> dict[int, bytes]:
        """Only the named header fields of each message (with their continuation lines)."""
        wanted = tuple(n.lower() for n in names)
        _uidlist, entries = sync(self._existing(folder))
        chosen = set(uids)
        result = {}
        for entry in entries:
            if entry.uid in chosen:
                head = read_header(entry.path)
                if head is not None:
                    result[entry.uid] = select_fields(head, wanted) + b"\n"
        return result

    def _headers(self, folder: str) -> Iterator[tuple[int, bytes]]:
        path = self.folder_path(folder)
        if not is_maildir(path):
            return
        _uidlist, entries = sync(path)
        for entry in entries:
            head = read_header(entry.path)
            if head is not None:
                yield entry.uid, head

    # -- helpers for the demo and for tests

    def message_path(self, folder: str, uid: int) -> Path | None:
        """Where the message with this UID is stored now, or None."""
        _uidlist, entries = sync(self._existing(folder))
        return next((e.path for e in entries if e.uid == uid), None)

    def count(self, folder: str) -> int:
        """Messages in a folder (0 when it does not exist)."""
        path = self.folder_path(folder)
        if not is_maildir(path):
            return 0
        return sum(1 for _ in file_names(path))

    # -- writing -----------------------------------------------------------------------------

    def add_label(self, folder: str, uids: Sequence[int], label: str) -> None:
        """Copy the messages into the folder named `label`, once each."""
        source = self._existing(folder)
        target = self.folder_path(label)
        if target == source:
            return
        _uidlist, entries = sync(source)
        wanted = set(uids)
        chosen = [e for e in entries if e.uid in wanted]
        if not chosen:
            return
        self._make_maildir(target, subfolder=target != self.root)
        present = {base_name(name) for name in file_names(target)}
        message_ids = self._target_message_ids(target)
        for entry in chosen:
            key = base_name(entry.path.name)
            if key in present:
                continue
            try:
                data = entry.path.read_bytes()
                stat = entry.path.stat()
            except FileNotFoundError:
                refound = self._refind(entry)
                if refound is None:
                    continue
                entry = refound
                data = entry.path.read_bytes()
                stat = entry.path.stat()
            message_id = message_id_in(data)
            if message_id and message_id in message_ids:
                continue
            info = entry.path.name.partition(":2,")[2]
            in_new = entry.path.parent.name == "new"
            name = key if in_new else f"{key}:2,{info}"
            self._deliver(target, "new" if in_new else "cur", name, data, stat.st_mtime)
            present.add(key)
            if message_id:
                message_ids.add(message_id)

    def append(self, folder: str, raw: bytes, flags: Iterable[str]) -> None:
        """Add a message (a draft) with the given flags: tmp/, then renamed into cur/ or new/."""
        self.append_path(folder, raw, flags)

    def append_path(self, folder: str, raw: bytes, flags: Iterable[str]) -> Path:
        """`append`, returning where the new file is."""
        target = self.folder_path(folder)
        self._make_maildir(target, subfolder=target != self.root)
        info = info_of(flags)
        data = raw.replace(b"\r\n", b"\n")  # Maildir files use the local line ending
        name = unique_name()
        if info:
            path = self._deliver(target, "cur", f"{name}:2,{info}", data, None)
        else:
            path = self._deliver(target, "new", name, data, None)
        message_id = message_id_in(data)
        if message_id and target in self._message_ids:
            self._message_ids[target].add(message_id)
        return path

    def deliver(
        self, folder: str, raw: bytes, *, name: str, received: datetime | None = None
    ) -> bool:
        """Put mail into a folder as a delivery agent would (unread, in new/), under a given
        base name, once: False when a message with that base name is already there. For the
        demo's sample mail and for tests; `received` becomes the INTERNALDATE (file mtime)."""
        if not name or name != base_name(name) or "/" in name or name.startswith("."):
            raise MailboxError(f"invalid Maildir file name {name!r}")
        target = self.folder_path(folder)
        self._make_maildir(target, subfolder=target != self.root)
        if name in {base_name(n) for n in file_names(target)}:
            return False
        mtime = received.timestamp() if received else None
        self._deliver(target, "new", name, raw.replace(b"\r\n", b"\n"), mtime)
        return True

    def close(self) -> None:
        self._message_ids.clear()

    def __enter__(self) -> MaildirMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _existing(self, folder: str) -> Path:
        path = self.folder_path(folder)
        if not is_maildir(path):
            raise MailboxError(f"no folder {folder!r} in the Maildir {self.root}")
        return path

    def _make_maildir(self, path: Path, *, subfolder: bool) -> None:
        try:
            for sub in SUBDIRS:
                (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            if subfolder and not (path / FOLDER_MARKER).exists():
                (path / FOLDER_MARKER).touch(mode=0o600)
        except OSError as exc:
            raise MailboxError(
                f"cannot create the Maildir folder {path}: {exc.strerror or exc}"
            ) from None

    def _deliver(self, folder: Path, sub: str, name: str, data: bytes, mtime: float | None) -> Path:
        """Write to tmp/ and rename into place: readers never see half a message."""
        temp = folder / "tmp" / name.split(":", 1)[0]
        final = folder / sub / name
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    if self.fsync:
                        out.flush()
                        os.fsync(out.fileno())
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            if mtime is not None:
                os.utime(temp, (mtime, mtime))
            if final.exists():  # never replace a message (rename would)
                temp.unlink()
                raise OSError(errno.EEXIST, "a message with this name exists", str(final))
            os.rename(temp, final)
        except OSError as exc:
            raise MailboxError(f"cannot write {final}: {exc.strerror or exc}") from None
        return final

    def _read_capped(self, path: Path) -> bytes:
        """The header and the first `body_bytes` of the body, like BODY.PEEK[HEADER]+TEXT<0.N>."""
        with path.open("rb") as handle:
            data = handle.read(MAX_HEADER_BYTES + self.body_bytes)
        end = header_end(data)
        if end < 0:
            return data[:MAX_HEADER_BYTES]
        return data[: end + self.body_bytes]

    def _refind(self, entry: Entry) -> Entry | None:
        key = base_name(entry.path.name)
        current = scan(entry.path.parent.parent).get(key)
        return Entry(entry.uid, current) if current else None

    @staticmethod
    def _internal_date(path: Path) -> datetime | None:
        """INTERNALDATE as Dovecot gives it for Maildir: the file's modification time."""
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        except FileNotFoundError:
            return None

    def _target_message_ids(self, target: Path) -> set[str]:
        """Message-IDs already in a label folder, read once per folder and kept up to date."""
        if target not in self._message_ids:
            ids = set()
            for file in scan(target).values():
                head = read_header(file)
                message_id = message_id_in(head) if head is not None else ""
                if message_id:
                    ids.add(message_id)
            self._message_ids[target] = ids
        return self._message_ids[target]
