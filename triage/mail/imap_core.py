"""One logged-in IMAP connection's state, and the primitives every command goes through.

It exists so that the operations of `triage.mail.imap.ImapSession` (reading, watching, labels,
drafts) share one place that knows the server's capabilities, which folder is selected and how
(SELECT or EXAMINE), the folder list, and how a library error becomes a triage error
(`_converting`). Nothing here reads or writes a message.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any, Self

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from triage.config import Account
from triage.errors import ConnectionLostError, MailboxError
from triage.mail.imap_errors import LIBRARY_ERRORS, convert_error, reason_of
from triage.mail.protocol import LabelStyle, SpecialFolders

log = logging.getLogger(__name__)


class ImapCore:
    """A logged-in connection to one account's IMAP server, before any mail operation.

    `triage.mail.imap.ImapSession` adds the operations; each wraps its commands in `_converting`.
    """

    def __init__(
        self, account: Account, client: IMAPClient, timeout: float, *, readonly: bool = False
    ) -> None:
        self.account = account
        self.readonly = readonly
        self._client = client
        self._timeout = timeout
        self._closed = False
        self._selected: str | None = None
        self._selected_rw = False
        self._permanent_keywords: bool | None = None
        self._folders: list[tuple[tuple[str, ...], str, str]] | None = None
        self._existing_folders: set[str] = set()
        self._special: SpecialFolders | None = None
        self._known_next: dict[str, int] = {}  # folder -> first UID not yet reported to caller
        self._opened_modseq: dict[str, int] = {}  # folder -> HIGHESTMODSEQ at open_folder
        # label folder -> (its STATUS, the Message-IDs in it): see `read_labels`
        self._label_folders: dict[str, tuple[tuple[int | None, ...], set[str]]] = {}
        with self._converting("CAPABILITY"):
            raw = client.capabilities()
        self.capabilities: frozenset[str] = frozenset(
            c.decode("ascii", "replace").upper() if isinstance(c, bytes) else str(c).upper()
            for c in raw
        )
        self._condstore = False
        if self.has_capability("CONDSTORE") and self.has_capability("ENABLE"):
            with self._converting("ENABLE CONDSTORE"), suppress(IMAPClientError):
                client.enable("CONDSTORE")
                self._condstore = True

    def __repr__(self) -> str:
        a = self.account
        state = "closed" if self._closed else "open"
        return f"<ImapSession {a.name!r} {a.username}@{a.host}:{a.port} {state}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.logout()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def tls_version(self) -> str | None:
        """The negotiated TLS version ("TLSv1.3", ...), or None on an unencrypted connection."""
        sock = self._client.socket()
        return sock.version() if isinstance(sock, ssl.SSLSocket) else None

    def has_capability(self, name: str) -> bool:
        return name.upper() in self.capabilities

    def noop(self) -> None:
        """Ask the server for pending updates; proves the connection is alive."""
        with self._converting("NOOP"):
            self._client.noop()

    @property
    def is_gmail(self) -> bool:
        return self.has_capability("X-GM-EXT-1")

    @property
    def can_idle(self) -> bool:
        return self.has_capability("IDLE")

    @property
    def label_style(self) -> LabelStyle:
        """Gmail labels, keywords or folders: the account's `labels`, else by capability."""
        if self.account.labels != "auto":
            return self.account.labels
        if self.is_gmail:
            return "gmail"
        if self._permanent_keywords is None:
            # PERMANENTFLAGS comes with a read-write SELECT (EXAMINE reports none at all).
            # Selecting changes nothing in the mailbox.
            folder = self.account.folders[0] if self.account.folders else "INBOX"
            with self._converting(f"SELECT {folder}"):
                response = self._client.select_folder(folder, readonly=False)
            self._selected, self._selected_rw = folder, True
            self._permanent_keywords = _allows_keywords(response)
        return "keywords" if self._permanent_keywords else "folders"

    def close(self) -> None:
        self.logout()

    def logout(self) -> None:
        """Log out and close the connection. Never raises: a dead connection is closed anyway."""
        if self._closed:
            return
        self._closed = True
        try:
            self._client.logout()
        except Exception as exc:
            log.debug("account %s: logout failed (%s); closing", self.account.name, exc)
            with suppress(Exception):
                self._client.shutdown()

    @contextmanager
    def _converting(self, action: str) -> Iterator[None]:
        """Turn any library or socket error raised inside the block into a MailboxError."""
        try:
            yield
        except LIBRARY_ERRORS as exc:
            converted = convert_error(exc, self.account, action, self._timeout)
            if isinstance(converted, ConnectionLostError):
                self._closed = True
            raise converted from exc

    def _select(
        self, folder: str, *, writable: bool = False, force: bool = False
    ) -> dict[bytes, Any]:
        """Make `folder` the selected one; read-write when labels will be written into it."""
        rw = not self.readonly and (writable or self._selected_rw or self._wants_rw())
        if not force and self._selected == folder and (self._selected_rw or not rw):
            return {}
        command = "SELECT" if rw else "EXAMINE"
        with self._converting(f"{command} {folder}"):
            try:
                response: dict[bytes, Any] = self._client.select_folder(folder, readonly=not rw)
            except IMAPClientError as exc:
                if isinstance(exc, IMAPClientAbortError):
                    raise
                self._selected = None
                raise MailboxError(
                    f"account {self.account.name!r}: cannot open folder {folder!r} on "
                    f"{self.account.host}: {reason_of(exc)}"
                ) from None
        self._selected, self._selected_rw = folder, rw
        if rw and self._permanent_keywords is None:
            self._permanent_keywords = _allows_keywords(response)
        return response

    def _wants_rw(self) -> bool:
        # Keywords and Gmail labels are written into the selected folder, so open it read-write
        # from the start instead of switching from EXAMINE to SELECT before every STORE.
        return self.account.labels in ("auto", "keywords", "gmail") and not self.readonly

    def _list_folders(self) -> list[tuple[tuple[str, ...], str, str]]:
        if self._folders is None:
            with self._converting("LIST"):
                listed = self._client.list_folders()
            self._folders = [
                (tuple(as_text(f) for f in flags), as_text(delim) if delim else "", str(name))
                for flags, delim, name in listed
            ]
            self._existing_folders = {name for _f, _d, name in self._folders}
        return self._folders


# --------------------------------------------------------------------------- response helpers


def as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def as_int(value: object) -> int | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _allows_keywords(select_response: dict[bytes, Any]) -> bool:
    permanent = select_response.get(b"PERMANENTFLAGS") or ()
    return any(as_text(flag) == "\\*" for flag in permanent)
