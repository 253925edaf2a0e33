"""The IMAP adapter, built on imapclient: its public face, and connecting and signing in.

`connect()` opens a connection, secures it and signs in (LOGIN or SASL PLAIN with a password,
OAUTHBEARER or XOAUTH2 with an OAuth2 access token); the `ImapSession` it returns implements the
`triage.mail.protocol.Mailbox` protocol (plus the optional `Watchable` and `HeaderSearch` ones).
The session is put together from one module per responsibility:

- label style by capability: `X-GM-EXT-1` -> Gmail labels (`X-GM-LABELS`); `\\*` in the
  PERMANENTFLAGS of a read-write SELECT -> keywords; otherwise copies into folders. The
  account's `labels` setting overrides the detection (`imap_core`, with the session's state).
- fetching is `BODY.PEEK[HEADER]` plus the first `FETCH_BODY_BYTES` of `BODY.PEEK[TEXT]`, in
  batches, so nothing ever becomes \\Seen; folders are opened with SELECT only when labels are
  written into them (keywords and Gmail labels need it), with EXAMINE in read-only sessions
  (`imap_reading`).
- keywords are set with `UID STORE +FLAGS.SILENT`, Gmail labels with `+X-GM-LABELS.SILENT`,
  folder labels with `UID COPY` into a folder created on first use, skipping messages whose
  Message-ID the folder already holds (so a copy is made once, even after a crash)
  (`imap_labels`).
- drafts are added with APPEND; Drafts and Sent are found by SPECIAL-USE (`\\Drafts`,
  `\\Sent`), Gmail's `[Gmail]/...` names, or the usual names (`imap_drafts`).
- `wait()` is IDLE (re-issued by the caller at least every `idle_refresh_minutes`), or a plain
  sleep on servers without IDLE (`imap_reading`).

imapclient, imaplib, ssl and socket exceptions are converted at the boundary (`imap_errors`),
into the project's own errors:

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
from contextlib import suppress

from imapclient import IMAPClient

from triage.config import Account
from triage.errors import (
    AuthenticationError,
    MailboxError,
    TLSError,
)
from triage.mail.credentials import Secret
from triage.mail.imap_drafts import DraftWriting
from triage.mail.imap_errors import LIBRARY_ERRORS, convert_error, reason_of
from triage.mail.imap_labels import LabelWriting

log = logging.getLogger(__name__)
# imapclient reports routine events ("Connection closed") at INFO and the whole protocol at
# DEBUG; this adapter logs what matters to a triage user itself.
logging.getLogger("imapclient").setLevel(logging.WARNING)

DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each command's reply


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


class ImapSession(LabelWriting, DraftWriting):
    """A logged-in connection to one account's IMAP server: the `Mailbox` protocol, plus
    `Watchable` (IDLE) and `HeaderSearch`.

    Use it as a context manager, or call `logout()` when done. `ImapCore` holds the connection's
    state; `FolderReading`, `LabelWriting` and `DraftWriting` add the operations, each wrapped
    in `_converting`.
    """


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
