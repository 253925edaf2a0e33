"""Mailbox adapters: where messages come from and where labels and drafts go.

`Mailbox` is the protocol the daemon, the demo and the tests program against. Two backends
implement it: `triage.mail.imap` (imapclient; no imapclient type or exception leaves it and
its `imap_*` modules, so the rest of triage only sees its own values and the `TriageError` tree) and
`triage.mail.maildir` (the embedded demo, and people who sync with mbsync/offlineimap).

Every method is safe by construction: fetching never sets \\Seen (BODY.PEEK), nothing deletes,
moves away or re-uploads a message; `append` exists only for drafts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol, runtime_checkable

LabelStyle = Literal["gmail", "keywords", "folders"]


@dataclass(frozen=True)
class FolderStatus:
    """What the server says about a folder when it is opened."""

    uidvalidity: int
    uidnext: int
    highestmodseq: int | None = None  # None where CONDSTORE is not available


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes  # header plus the first bytes of the body (capped)
    flags: frozenset[str]  # system flags and keywords, e.g. "\\Seen", "triage-drafted"
    labels: frozenset[str] = frozenset()  # Gmail labels (X-GM-LABELS), empty elsewhere
    internal_date: datetime | None = None
    modseq: int | None = None


@dataclass(frozen=True)
class SpecialFolders:
    """Folders found by SPECIAL-USE (or Gmail's names), "" when the server has none."""

    drafts: str = ""
    sent: str = ""


class Mailbox(Protocol):
    """One account's mailbox, as the daemon needs it."""

    @property
    def label_style(self) -> LabelStyle:
        """How labels are applied here: Gmail labels, IMAP keywords, or copies into folders."""
        ...

    def special_folders(self) -> SpecialFolders: ...

    def open_folder(self, folder: str) -> FolderStatus:
        """Select a folder read-only where possible; raises MailboxError if it does not exist."""
        ...

    def search(self, folder: str, *, min_uid: int = 1, since: date | None = None) -> list[int]:
        """UIDs >= min_uid (and with INTERNALDATE on/after `since`), ascending."""
        ...

    def fetch(self, folder: str, uids: Sequence[int]) -> list[FetchedMessage]:
        """Messages by UID with BODY.PEEK; UIDs that vanished are simply absent."""
        ...

    def add_label(self, folder: str, uids: Sequence[int], label: str) -> None:
        """Apply a label in this mailbox's style (idempotent: applying twice changes nothing)."""
        ...

    def append(self, folder: str, raw: bytes, flags: Iterable[str]) -> None:
        """Add a new message (used only for drafts) with the given flags."""
        ...

    def close(self) -> None: ...


# Optional abilities. The daemon uses them when a backend has them and falls back otherwise
# (a sleep instead of `wait`, a scan of the folder instead of `find_message_id`).


@runtime_checkable
class Watchable(Protocol):
    """A mailbox that can block until a folder changes (IMAP IDLE)."""

    def wait(
        self, folder: str, *, timeout: float, poll_interval: float, interrupted: Callable[[], bool]
    ) -> bool:
        """Return True when the folder may have changed, False after `timeout` or as soon as
        `interrupted()` is true (checked about once a second)."""
        ...


@runtime_checkable
class HeaderSearch(Protocol):
    """A mailbox that can find messages by header without fetching them all."""

    def find_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs of the messages in `folder` with exactly this Message-ID."""
        ...

    def find_replies(self, folder: str, message_id: str) -> list[int]:
        """UIDs of the messages in `folder` that answer `message_id` (In-Reply-To/References)."""
        ...

    def fetch_headers(
        self, folder: str, uids: Sequence[int], names: Sequence[str]
    ) -> dict[int, bytes]:
        """Only the named header fields of each message, as raw header bytes."""
        ...
