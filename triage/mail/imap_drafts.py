"""Drafts over IMAP: where they go (and where sent mail is), and adding one.

It exists to keep the adapter's only APPEND, and the finding of the Drafts and Sent folders
(by SPECIAL-USE `\\Drafts` and `\\Sent`, Gmail's `[Gmail]/...` names, or the usual names),
apart from reading and labelling. A read-only session refuses to append.
"""

from __future__ import annotations

from collections.abc import Iterable

from triage.errors import MailboxError
from triage.mail.imap_core import ImapCore
from triage.mail.protocol import SpecialFolders

GMAIL_DRAFTS = "[Gmail]/Drafts"
GMAIL_SENT = "[Gmail]/Sent Mail"
DRAFTS_NAMES = ("Drafts", "INBOX.Drafts", "INBOX/Drafts", "Draft", "[Gmail]/Drafts")
SENT_NAMES = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "INBOX.Sent",
    "INBOX/Sent",
    "[Gmail]/Sent Mail",
)


class DraftWriting(ImapCore):
    """The drafts side of an `ImapSession`: `special_folders` and `append`."""

    def special_folders(self) -> SpecialFolders:
        """Drafts and Sent: SPECIAL-USE attributes first, then Gmail's and the usual names."""
        if self._special is None:
            folders = self._list_folders()
            by_flag: dict[str, str] = {}
            names = {name for _flags, _delim, name in folders}
            for flags, _delim, name in folders:
                for flag in flags:
                    by_flag.setdefault(flag.lower(), name)
            drafts = by_flag.get("\\drafts") or _first_present(
                (GMAIL_DRAFTS,) if self.is_gmail else DRAFTS_NAMES, names
            )
            sent = by_flag.get("\\sent") or _first_present(
                (GMAIL_SENT,) if self.is_gmail else SENT_NAMES, names
            )
            self._special = SpecialFolders(drafts=drafts, sent=sent)
        return self._special

    def append(self, folder: str, raw: bytes, flags: Iterable[str]) -> None:
        """APPEND a message (only ever a draft) with these flags."""
        if self.readonly:
            raise MailboxError(f"account {self.account.name!r}: read-only session, no APPEND")
        with self._converting(f"APPEND {folder}"):
            self._client.append(folder, raw, flags=tuple(flags))


def _first_present(candidates: Iterable[str], names: set[str]) -> str:
    lowered = {name.lower(): name for name in names}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return ""
