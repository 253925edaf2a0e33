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
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from triage.batching import chunks
from triage.config import Account
from triage.errors import (
    AuthenticationError,
    MailboxError,
    TLSError,
)
from triage.mail.credentials import Secret
from triage.mail.imap_core import as_int, as_text
from triage.mail.imap_errors import LIBRARY_ERRORS, convert_error, reason_of
from triage.mail.imap_reading import FETCH_CHUNK, FolderReading
from triage.mail.message_ids import message_id_in
from triage.mail.protocol import SpecialFolders

log = logging.getLogger(__name__)
# imapclient reports routine events ("Connection closed") at INFO and the whole protocol at
# DEBUG; this adapter logs what matters to a triage user itself.
logging.getLogger("imapclient").setLevel(logging.WARNING)

DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each command's reply

GMAIL_DRAFTS = "[Gmail]/Drafts"
GMAIL_SENT = "[Gmail]/Sent Mail"
DRAFTS_NAMES = ("Drafts", "INBOX.Drafts", "INBOX/Drafts", "Draft", "[Gmail]/Drafts")
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "INBOX/Sent",
              "[Gmail]/Sent Mail")


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


class ImapSession(FolderReading):
    """A logged-in connection to one account's IMAP server.

    Use it as a context manager, or call `logout()` when done. `ImapCore` holds the connection's
    state; this class adds the folder, fetch, IDLE, label and draft operations, each wrapped in
    `_converting`.
    """

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

    # ------------------------------------------------------------------ helpers

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


def _first_present(candidates: Iterable[str], names: set[str]) -> str:
    lowered = {name.lower(): name for name in names}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return ""


