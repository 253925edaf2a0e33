"""The IMAP adapter, built on imapclient.

`connect()` opens and authenticates a connection; the `ImapSession` it returns implements the
`triage.mailbox.Mailbox` protocol (plus the optional `Watchable` and `HeaderSearch` ones):

- label style by capability: `X-GM-EXT-1` -> Gmail labels (`X-GM-LABELS`); `\\*` in the
  PERMANENTFLAGS of a read-write SELECT -> keywords; otherwise copies into folders. The
  account's `labels` setting overrides the detection.
- fetching is `BODY.PEEK[HEADER]` plus the first `FETCH_BODY_BYTES` of `BODY.PEEK[TEXT]`, in
  batches, so nothing ever becomes \\Seen; folders are opened with SELECT only when labels are
  written into them (keywords and Gmail labels need it), with EXAMINE in read-only sessions.
- keywords are set with `UID STORE +FLAGS.SILENT`, Gmail labels with `+X-GM-LABELS.SILENT`,
  folder labels with `UID COPY` into a folder created on first use, skipping messages whose
  Message-ID the folder already holds (so a copy is made once, even after a crash).
- drafts are added with APPEND; Drafts and Sent are found by SPECIAL-USE (`\\Drafts`,
  `\\Sent`), Gmail's `[Gmail]/...` names, or the usual names.
- `wait()` is IDLE (re-issued by the caller at least every `idle_refresh_minutes`), or a plain
  sleep on servers without IDLE.

imapclient, imaplib, ssl and socket exceptions are converted here, at the boundary, into the
project's own errors:

- the server rejected the login -> `AuthenticationError` (raised at once, never retried)
- the certificate is not trusted, or TLS failed -> `TLSError` naming the host and `ca_file`
- the network failed, timed out or the server hung up -> `ConnectionLostError` (retryable)
- anything else the server or the protocol got wrong -> `MailboxError`

Certificates are always verified (`ssl.create_default_context`, the system's trust store plus the
account's `ca_file`); only `tls = "none"` with `allow_insecure = true` skips TLS altogether.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from datetime import date
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from triage.batching import chunks
from triage.config import Account
from triage.errors import (
    AuthenticationError,
    ConnectionLostError,
    MailboxError,
    TLSError,
)
from triage.mail.credentials import Secret
from triage.mail.imap_core import ImapCore, as_int, as_text
from triage.mail.imap_errors import LIBRARY_ERRORS, convert_error, reason_of
from triage.mail.message_ids import message_id_in
from triage.mail.protocol import FetchedMessage, FolderStatus, SpecialFolders

log = logging.getLogger(__name__)
# imapclient reports routine events ("Connection closed") at INFO and the whole protocol at
# DEBUG; this adapter logs what matters to a triage user itself.
logging.getLogger("imapclient").setLevel(logging.WARNING)

DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each command's reply

# What is fetched of each message: the whole header and this much of the body (the classifier
# reads the opening of the text; a 20 MB attachment is never downloaded).
FETCH_BODY_BYTES = 256 * 1024
FETCH_CHUNK = 500  # UIDs per FETCH command
SEARCH_OR_CHUNK = 25  # Message-IDs per OR-ed HEADER search
IDLE_CHECK_SECONDS = 1.0  # how often a waiting IDLE looks at `interrupted()`

GMAIL_DRAFTS = "[Gmail]/Drafts"
GMAIL_SENT = "[Gmail]/Sent Mail"
DRAFTS_NAMES = ("Drafts", "INBOX.Drafts", "INBOX/Drafts", "Draft", "[Gmail]/Drafts")
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "INBOX/Sent",
              "[Gmail]/Sent Mail")
_CHANGES = {b"EXISTS", b"RECENT", b"EXPUNGE", b"FETCH", b"VANISHED"}


def ssl_context(account: Account) -> ssl.SSLContext:
    """A verifying TLS context: the system trust store plus the account's `ca_file`, if any."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if account.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(account.ca_file))
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise TLSError(
                f"account {account.name!r}: ca_file {str(account.ca_file)!r} could not be "
                f"loaded as PEM certificates ({reason_of(exc)})"
            ) from None
    return context


class ImapSession(ImapCore):
    """A logged-in connection to one account's IMAP server.

    Use it as a context manager, or call `logout()` when done. `ImapCore` holds the connection's
    state; this class adds the folder, fetch, IDLE, label and draft operations, each wrapped in
    `_converting`.
    """

    body_bytes = FETCH_BODY_BYTES

    # ------------------------------------------------------------------ the Mailbox protocol

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
                (GMAIL_DRAFTS,) if self.is_gmail else DRAFTS_NAMES, names)
            sent = by_flag.get("\\sent") or _first_present(
                (GMAIL_SENT,) if self.is_gmail else SENT_NAMES, names)
            self._special = SpecialFolders(drafts=drafts, sent=sent)
        return self._special

    def open_folder(self, folder: str) -> FolderStatus:
        """(Re-)open a folder: SELECT in a read-write session, EXAMINE in a read-only one.

        Opening again every time is deliberate: it is the cheapest way to get the current
        UIDVALIDITY and UIDNEXT from every server.
        """
        response = self._select(folder, force=True)
        uidvalidity = as_int(response.get(b"UIDVALIDITY"))
        uidnext = as_int(response.get(b"UIDNEXT"))
        if uidvalidity is None:
            raise MailboxError(f"account {self.account.name!r}: the server gave no UIDVALIDITY "
                               f"for {folder!r}")
        if uidnext is None:  # optional before IMAP4rev2; work it out
            with self._converting(f"SEARCH {folder}"):
                uids = self._client.search(["ALL"])
            uidnext = max(uids, default=0) + 1
        self._known_next[folder] = uidnext
        highestmodseq = as_int(response.get(b"HIGHESTMODSEQ"))
        if highestmodseq is not None:
            self._opened_modseq[folder] = highestmodseq
        return FolderStatus(uidvalidity=uidvalidity, uidnext=uidnext, highestmodseq=highestmodseq)

    def search(self, folder: str, *, min_uid: int = 1, since: date | None = None) -> list[int]:
        self._select(folder)
        criteria: list[Any] = ["UID", f"{max(min_uid, 1)}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        with self._converting(f"SEARCH {folder}"):
            uids = self._client.search(criteria)
        # "n:*" always matches the highest UID, even when it is below n.
        found = sorted(int(u) for u in uids if int(u) >= min_uid)
        if found and since is None:
            self._known_next[folder] = max(self._known_next.get(folder, 0), found[-1] + 1)
        return found

    def fetch(self, folder: str, uids: Sequence[int]) -> list[FetchedMessage]:
        """Header plus the first `body_bytes` of the body, with BODY.PEEK (never \\Seen)."""
        self._select(folder)
        # Only what triage reads: INTERNALDATE and MODSEQ would cost a third more time to
        # parse on a backfill, for nothing (`internal_date` and `modseq` stay None).
        items = ["UID", "FLAGS", "BODY.PEEK[HEADER]", f"BODY.PEEK[TEXT]<0.{self.body_bytes}>"]
        if self.is_gmail:
            items.append("X-GM-LABELS")
        fetched: list[FetchedMessage] = []
        for chunk in map(list, chunks(uids, FETCH_CHUNK)):
            with self._converting(f"FETCH {folder}"):
                response = self._client.fetch(chunk, items)
            for uid in chunk:
                data = response.get(uid)
                if data is None:
                    continue  # expunged meanwhile
                header = _body(data, b"BODY[HEADER]")
                text = _body(data, b"BODY[TEXT]")
                fetched.append(FetchedMessage(
                    uid=uid,
                    raw=header + text,
                    flags=frozenset(as_text(f) for f in data.get(b"FLAGS", ())),
                    labels=frozenset(as_text(label) for label in data.get(b"X-GM-LABELS", ())),
                ))
        return fetched

    def add_label(self, folder: str, uids: Sequence[int], label: str) -> None:
        """Keyword, Gmail label or folder copy; applying twice changes nothing."""
        uids = sorted(set(uids))
        if not uids:
            return
        if self.readonly:
            raise MailboxError(f"account {self.account.name!r}: read-only session, no labels")
        style = self.label_style
        if style == "folders":
            self._copy_once(folder, uids, self.server_folder_name(label))
            return
        self._select(folder, writable=True)
        with self._converting(f"STORE {folder}"):
            if style == "gmail":
                self._client.add_gmail_labels(uids, [label], silent=True)
            else:
                self._client.add_flags(uids, [label], silent=True)

    def append(self, folder: str, raw: bytes, flags: Iterable[str]) -> None:
        """APPEND a message (only ever a draft) with these flags."""
        if self.readonly:
            raise MailboxError(f"account {self.account.name!r}: read-only session, no APPEND")
        with self._converting(f"APPEND {folder}"):
            self._client.append(folder, raw, flags=tuple(flags))

    # ------------------------------------------------------------------ optional protocols

    def find_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs in `folder` whose Message-ID header is exactly `message_id`."""
        if not message_id:
            return []
        found = self._search_header(folder, "Message-ID", [message_id])
        return sorted(uid for uid, mid in found.items() if mid == message_id)

    def find_replies(self, folder: str, message_id: str) -> list[int]:
        """UIDs in `folder` that are replies to `message_id` (In-Reply-To or References)."""
        if not message_id:
            return []
        self._select(folder)
        criteria = ["OR", "HEADER", "In-Reply-To", message_id, "HEADER", "References",
                    message_id]
        with self._converting(f"SEARCH {folder}"):
            return sorted(int(u) for u in self._client.search(criteria))

    def fetch_headers(self, folder: str, uids: Sequence[int],
                      names: Sequence[str]) -> dict[int, bytes]:
        """Only the named header fields of each message (BODY.PEEK[HEADER.FIELDS (...)])."""
        self._select(folder)
        part = f"BODY[HEADER.FIELDS ({' '.join(n.upper() for n in names)})]"
        result: dict[int, bytes] = {}
        for chunk in map(list, chunks(uids, FETCH_CHUNK * 4)):
            with self._converting(f"FETCH {folder}"):
                response = self._client.fetch(chunk, [part.replace("BODY[", "BODY.PEEK[")])
            for uid, data in response.items():
                result[int(uid)] = _body(data, b"BODY[HEADER.FIELDS")
        return result

    def read_labels(self, folder: str, uids: Sequence[int], names: Sequence[str], *,
                    changed_since: int | None = None,
                    message_ids: Mapping[int, str] | None = None) -> dict[int, frozenset[str]]:
        """Which of the labels `names` each message carries now (for `triage.corrections`).

        Keywords: FLAGS; Gmail: X-GM-LABELS; with `changed_since` and CONDSTORE only the
        messages changed after that modseq are reported (`CHANGEDSINCE`). Folders style: whether
        each label folder holds the message's Message-ID (from `message_ids`), ignoring copies
        marked \\Deleted; a label folder is read again only when its STATUS changed. Messages no
        longer in `folder` are absent. Nothing here changes the mailbox or what `wait` sees.
        """
        wanted = sorted(set(uids))
        if not wanted:
            return {}
        if self.label_style == "folders":
            return self._folder_labels(folder, wanted, names, message_ids or {})
        self._select(folder)
        item = "X-GM-LABELS" if self.label_style == "gmail" else "FLAGS"
        modifiers = [f"CHANGEDSINCE {changed_since}"] \
            if changed_since is not None and self._condstore else None
        known = set(names)
        result: dict[int, frozenset[str]] = {}
        for chunk in chunks(wanted, FETCH_CHUNK * 4):
            with self._converting(f"FETCH {folder}"):
                response = self._client.fetch(chunk, [item], modifiers=modifiers)
            for uid, data in response.items():
                values = data.get(item.encode(), ())
                result[int(uid)] = frozenset(as_text(v) for v in values) & known
        return result

    def _folder_labels(self, folder: str, uids: list[int], names: Sequence[str],
                       message_ids: Mapping[int, str]) -> dict[int, frozenset[str]]:
        holders = {name: self._message_ids_in(self.server_folder_name(name)) for name in names}
        self._select(folder)
        with self._converting(f"SEARCH {folder}"):
            # a raw SEARCH: `search` would move what `wait` counts as already reported
            present = {int(u) for u in self._client.search(["UID", f"{uids[0]}:{uids[-1]}"])}
        result: dict[int, frozenset[str]] = {}
        for uid in uids:
            if uid in present:
                mid = message_ids.get(uid, "")
                result[uid] = frozenset(n for n in names if mid and mid in holders[n])
        return result

    def _message_ids_in(self, name: str) -> set[str]:
        """The Message-IDs in a label folder, cached until its STATUS changes."""
        self._list_folders()
        if name not in self._existing_folders:
            with self._converting(f"LIST {name}"):
                if not self._client.folder_exists(name):
                    return set()
            self._existing_folders.add(name)
        items = [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"]
        if self._condstore:
            items.append(b"HIGHESTMODSEQ")  # a copy marked \Deleted changes only this
        with self._converting(f"STATUS {name}"):
            status = self._client.folder_status(name, items)
        key = tuple(as_int(status.get(i)) for i in items)
        cached = self._label_folders.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        self._select(name)
        with self._converting(f"SEARCH {name}"):
            members = sorted(int(u) for u in self._client.search(["NOT", "DELETED"]))
        ids: set[str] = set()
        if members:
            ids = {message_id_in(raw) for raw in
                   self.fetch_headers(name, members, ["Message-ID"]).values()} - {""}
        self._label_folders[name] = (key, ids)
        return ids

    def wait(self, folder: str, *, timeout: float, poll_interval: float,
             interrupted: Callable[[], bool]) -> bool:
        """Block until `folder` may have changed (True), or `timeout` passed or `interrupted()`
        (False). IDLE where the server has it; otherwise a sleep of `poll_interval`, after
        which the caller looks again (True)."""
        if not self.can_idle:
            deadline = time.monotonic() + min(poll_interval, timeout)
            while time.monotonic() < deadline:
                if interrupted():
                    return False
                time.sleep(min(IDLE_CHECK_SECONDS, max(deadline - time.monotonic(), 0)))
            with self._converting("NOOP"):
                self._client.noop()
            return True
        self._select(folder)
        if self._arrived_since_last_look(folder) or self._flags_changed_since_open(folder):
            return True
        deadline = time.monotonic() + timeout
        with self._converting("IDLE"):
            self._client.idle()
        # Mail that arrived just before IDLE started is announced right after "+ idling",
        # often in the same packet; imaplib then holds the EXISTS in its read buffer, where
        # idle_check's poll() on the socket never sees it.
        changed = self._input_buffered()
        try:
            while not changed:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or interrupted():
                    break
                step = min(IDLE_CHECK_SECONDS, remaining)
                started = time.monotonic()
                with self._converting("IDLE"):
                    responses = self._client.idle_check(timeout=step)
                for response in responses:
                    if b"BYE" in response[:1]:
                        raise ConnectionLostError(
                            f"account {self.account.name!r}: {self.account.host} ended the "
                            f"connection during IDLE: {as_text(response[-1])}")
                    if any(item in _CHANGES for item in response[:2] if isinstance(item, bytes)):
                        changed = True
                if not responses and time.monotonic() - started < step * 0.9:
                    # The socket was readable but held no whole line: the server hung up (or
                    # sent half a line). Ending IDLE tells which; either way, look again.
                    changed = True
        finally:
            if not self._closed:
                with self._converting("IDLE DONE"):
                    self._client.idle_done()
        return changed

    # ------------------------------------------------------------------ helpers

    def _input_buffered(self) -> bool:
        """Whether server data already waits in imaplib's read buffer (or in the TLS layer),
        where poll() on the socket cannot see it. Never blocks."""
        file = getattr(getattr(self._client, "_imap", None), "file", None)
        if file is None or not hasattr(file, "peek"):
            return False
        sock = self._client.socket()
        previous = sock.gettimeout()
        sock.setblocking(False)
        try:
            # Buffered bytes come back at once; with an empty buffer this is one
            # non-blocking read, which finds only what TLS has already decrypted.
            return bool(file.peek(1))
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except (OSError, ValueError):
            return True  # a dead connection: ending IDLE will report it
        finally:
            with suppress(OSError):
                sock.settimeout(previous)

    def _arrived_since_last_look(self, folder: str) -> bool:
        """Mail that arrived between the caller's last search and now.

        The server announces it (EXISTS) in the reply to whatever command comes next, say a
        STORE, and not again once IDLE starts; so look before idling, or it would wait for
        the next IDLE refresh."""
        known = self._known_next.get(folder)
        if known is None:
            return False
        # imaplib keeps untagged responses that came with other commands' replies here.
        untagged = getattr(getattr(self._client, "_imap", None), "untagged_responses", None)
        if isinstance(untagged, dict):
            untagged.pop("EXISTS", None)
            untagged.pop("RECENT", None)
        with self._converting(f"SEARCH {folder}"):
            uids = self._client.search(["UID", f"{known}:*"])
        if any(int(u) >= known for u in uids):
            return True
        # A message that arrived while the SEARCH ran is announced in its reply (after the
        # result was computed) and never again.
        return isinstance(untagged, dict) and ("EXISTS" in untagged or "RECENT" in untagged)

    def _flags_changed_since_open(self, folder: str) -> bool:
        """Flags changed since the caller last opened the folder: the user relabelled mail
        during a catch-up (or triage wrote its own labels). IDLE announces only later changes,
        so the caller must look again first, or a correction would wait for the next refresh.
        After triage's own labelling this costs one more look, which then finds nothing."""
        known = self._opened_modseq.get(folder)
        if known is None or not self.has_capability("CONDSTORE"):
            return False
        with self._converting(f"SEARCH {folder}"):
            return bool(self._client.search(["MODSEQ", str(known + 1)]))

    def server_folder_name(self, label: str) -> str:
        """A label like `Triage/Relationship` as a folder name on this server (its delimiter
        and personal namespace prefix)."""
        delimiter, prefix = self._hierarchy()
        name = label.replace("/", delimiter) if delimiter and delimiter != "/" else label
        if prefix and not name.upper().startswith(prefix.upper()) and name.upper() != "INBOX":
            name = prefix + name
        return name

    def _hierarchy(self) -> tuple[str, str]:
        prefix, delimiter = "", "/"
        if self.has_capability("NAMESPACE"):
            with self._converting("NAMESPACE"), suppress(IMAPClientError):
                personal = self._client.namespace().personal
                if personal:
                    prefix, delimiter = personal[0][0] or "", personal[0][1] or delimiter
                    return delimiter, prefix
        folders = self._list_folders()
        for _flags, delim, _name in folders:
            if delim:
                return delim, prefix
        return delimiter, prefix

    def _ensure_folder(self, name: str) -> None:
        self._list_folders()
        if name in self._existing_folders:
            return
        with self._converting(f"LIST {name}"):
            exists = self._client.folder_exists(name)
        if not exists:
            log.info("account %s: creating folder %s", self.account.name, name)
            with self._converting(f"CREATE {name}"):
                try:
                    self._client.create_folder(name)
                except IMAPClientError:
                    # Someone (another triage thread) may have created it meanwhile.
                    if not self._client.folder_exists(name):
                        raise
            with self._converting(f"SUBSCRIBE {name}"), suppress(IMAPClientError):
                self._client.subscribe_folder(name)
        self._existing_folders.add(name)

    def _search_header(self, folder: str, header: str,
                       values: Sequence[str]) -> dict[int, str]:
        """uid -> Message-ID for messages whose `header` contains one of `values`."""
        self._select(folder)
        hits: set[int] = set()
        for chunk in chunks(values, SEARCH_OR_CHUNK):
            with self._converting(f"SEARCH {folder}"):
                hits.update(int(u) for u in self._client.search(_or_header(header, chunk)))
        if not hits:
            return {}
        headers = self.fetch_headers(folder, sorted(hits), ["Message-ID"])
        return {uid: message_id_in(raw) for uid, raw in headers.items()}

    def _copy_once(self, folder: str, uids: list[int], target: str) -> None:
        """COPY into `target`, skipping messages whose Message-ID is already there."""
        self._ensure_folder(target)
        ids = {uid: message_id_in(raw) for uid, raw in
               self.fetch_headers(folder, uids, ["Message-ID"]).items()}
        wanted = sorted({mid for mid in ids.values() if mid})
        present = set(self._search_header(target, "Message-ID", wanted).values()) if wanted \
            else set()
        todo = [uid for uid in uids if uid in ids and not (ids[uid] and ids[uid] in present)]
        if not todo:
            return
        self._select(folder)
        with self._converting(f"COPY {folder}"):
            self._client.copy(todo, target)


def connect(
    account: Account,
    password: Secret,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    readonly: bool = False,
) -> ImapSession:
    """Open a connection to the account's server, secure it as configured and log in.

    One attempt only: the daemon decides about retrying (and never retries an
    AuthenticationError). A `readonly` session opens folders with EXAMINE and refuses to
    write anything (`triage run --dry-run`, `triage drafts`).
    """
    context = ssl_context(account) if account.tls != "none" else None
    if account.tls == "none":
        log.warning(
            "account %s: connecting to %s:%d without TLS; the password travels in clear text",
            account.name,
            account.host,
            account.port,
        )
    action = "connect"
    client: IMAPClient | None = None
    try:
        client = IMAPClient(
            account.host,
            port=account.port,
            ssl=account.tls == "implicit",
            ssl_context=context,
            timeout=timeout,
        )
        if account.tls == "starttls":
            action = "STARTTLS"
            if not client.has_capability("STARTTLS"):
                raise MailboxError(
                    f"account {account.name!r}: {account.host}:{account.port} does not offer "
                    'STARTTLS; use tls = "implicit" (usually on port 993)'
                )
            client.starttls(context)
        action = "login"
        _login(client, account, password)
        log.debug("account %s: logged in to %s:%d", account.name, account.host, account.port)
        return ImapSession(account, client, timeout, readonly=readonly)
    except BaseException as exc:
        if client is not None:
            with suppress(Exception):
                client.shutdown()
        if isinstance(exc, LIBRARY_ERRORS):
            # `from None`: the library frames below hold the password as a plain string, so
            # they stay out of any traceback rendering that shows local variables.
            raise convert_error(exc, account, action, timeout, password) from None
        raise


def _login(client: IMAPClient, account: Account, password: Secret) -> None:
    # The revealed password is never bound to a local name here (see `connect`).
    if account.auth == "oauth2":
        _oauth2_login(client, account, password)
        return
    if password.reveal().isascii() and account.username.isascii():
        if client.has_capability("LOGINDISABLED"):
            raise MailboxError(
                f"account {account.name!r}: {account.host} refuses to log in over an "
                'unencrypted connection (LOGINDISABLED); use tls = "starttls" or "implicit"'
            )
        client.login(account.username, password.reveal())
        return
    # IMAP LOGIN can only carry ASCII; SASL PLAIN carries UTF-8.
    if not client.has_capability("AUTH=PLAIN"):
        raise AuthenticationError(
            f"account {account.name!r}: the user name or password contains non-ASCII "
            f"characters and {account.host} does not offer AUTHENTICATE PLAIN to send them"
        )
    client.plain_login(account.username, password.reveal())


def _oauth2_login(client: IMAPClient, account: Account, token: Secret) -> None:
    """SASL OAUTHBEARER (RFC 7628) where offered, else XOAUTH2 (Google's and Microsoft's)."""
    if client.has_capability("AUTH=OAUTHBEARER"):
        client.oauthbearer_login(account.username, token.reveal())
    elif client.has_capability("AUTH=XOAUTH2"):
        client.oauth2_login(account.username, token.reveal())
    else:
        raise AuthenticationError(
            f"account {account.name!r}: {account.host} offers neither AUTHENTICATE "
            'OAUTHBEARER nor XOAUTH2, so it cannot sign in with OAuth2; use auth = "password"'
        )


# --------------------------------------------------------------------------- response helpers


def _body(data: dict[bytes, Any], prefix: bytes) -> bytes:
    """A BODY[...] item by prefix (servers echo `BODY[TEXT]<0>` with the origin)."""
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(prefix):
            if value is None:
                return b""
            return value if isinstance(value, bytes) else str(value).encode()
    return b""


def _first_present(candidates: Iterable[str], names: set[str]) -> str:
    lowered = {name.lower(): name for name in names}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return ""


def _or_header(header: str, values: Sequence[str]) -> list[str]:
    """`OR HEADER h a OR HEADER h b HEADER h c`: a search key matching any of the values."""
    criteria: list[str] = []
    for index, value in enumerate(values):
        if index < len(values) - 1:
            criteria.append("OR")
        criteria += ["HEADER", header, value]
    return criteria


