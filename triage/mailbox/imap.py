"""The IMAP adapter, built on imapclient.

This part opens and authenticates connections. imapclient, imaplib, ssl and socket exceptions
are converted here, at the boundary, into the project's own errors:

- the server rejected the login -> `AuthenticationError` (raised at once, never retried)
- the certificate is not trusted, or TLS failed -> `TLSError` naming the host and `ca_file`
- the network failed, timed out or the server hung up -> `ConnectionLostError` (retryable)
- anything else the server or the protocol got wrong -> `MailboxError`

Certificates are always verified (`ssl.create_default_context`, the system's trust store plus the
account's `ca_file`); only `tls = "none"` with `allow_insecure = true` skips TLS altogether.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from triage.config import Account
from triage.credentials import Secret
from triage.errors import (
    AuthenticationError,
    ConnectionLostError,
    MailboxError,
    TLSError,
)

log = logging.getLogger(__name__)
# imapclient reports routine events ("Connection closed") at INFO and the whole protocol at
# DEBUG; this adapter logs what matters to a triage user itself.
logging.getLogger("imapclient").setLevel(logging.WARNING)

DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each command's reply

# OpenSSL verify codes (X509_V_ERR_*): who issued the certificate is unknown, or its name is wrong.
_X509_UNKNOWN_ISSUER = {2, 18, 19, 20, 21}
_X509_HOSTNAME_MISMATCH = 62

# OpenSSL reasons that mean "this port does not speak TLS the way we tried".
_NOT_TLS_REASONS = {
    "WRONG_VERSION_NUMBER",
    "UNKNOWN_PROTOCOL",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
    "HTTP_REQUEST",
}


def ssl_context(account: Account) -> ssl.SSLContext:
    """A verifying TLS context: the system trust store plus the account's `ca_file`, if any."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if account.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(account.ca_file))
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise TLSError(
                f"account {account.name!r}: ca_file {str(account.ca_file)!r} could not be "
                f"loaded as PEM certificates ({_reason(exc)})"
            ) from None
    return context


# What the library and the network raise; anything else is a bug and propagates as it is.
_LIBRARY_ERRORS = (IMAPClientError, OSError, EOFError)


class ImapSession:
    """A logged-in connection to one account's IMAP server.

    Use it as a context manager, or call `logout()` when done. The daemon work extends this
    class with folder, fetch, IDLE, label and draft operations, each wrapped in `_converting`.
    """

    def __init__(self, account: Account, client: IMAPClient, timeout: float) -> None:
        self.account = account
        self._client = client
        self._timeout = timeout
        self._closed = False
        with self._converting("CAPABILITY"):
            raw = client.capabilities()
        self.capabilities: frozenset[str] = frozenset(
            c.decode("ascii", "replace").upper() if isinstance(c, bytes) else str(c).upper()
            for c in raw
        )

    def __repr__(self) -> str:
        a = self.account
        state = "closed" if self._closed else "open"
        return f"<ImapSession {a.name!r} {a.username}@{a.host}:{a.port} {state}>"

    def __enter__(self) -> ImapSession:
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
        except _LIBRARY_ERRORS as exc:
            converted = convert_error(exc, self.account, action, self._timeout)
            if isinstance(converted, ConnectionLostError):
                self._closed = True
            raise converted from exc


def connect(account: Account, password: Secret, *, timeout: float = DEFAULT_TIMEOUT) -> ImapSession:
    """Open a connection to the account's server, secure it as configured and log in.

    One attempt only: the daemon decides about retrying (and never retries an
    AuthenticationError).
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
        return ImapSession(account, client, timeout)
    except BaseException as exc:
        if client is not None:
            with suppress(Exception):
                client.shutdown()
        if isinstance(exc, _LIBRARY_ERRORS):
            # `from None`: the library frames below hold the password as a plain string, so
            # they stay out of any traceback rendering that shows local variables.
            raise convert_error(exc, account, action, timeout, password) from None
        raise


def _login(client: IMAPClient, account: Account, password: Secret) -> None:
    # The revealed password is never bound to a local name here (see `connect`).
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


def _reason(exc: BaseException) -> str:
    """A short, single-line description of a library exception."""
    if isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None):
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc) or type(exc).__name__
    # imaplib wraps server text as bytes reprs: "b'[AUTHENTICATIONFAILED] Authentication failed.'"
    text = re.sub(r"""\bb(['"])(.*?)\1""", r"\2", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text.strip()[:300]


def convert_error(
    exc: BaseException,
    account: Account,
    action: str,
    timeout: float,
    password: Secret | None = None,
) -> MailboxError:
    """The project's error for a library/socket exception raised while talking to `account`."""
    name = account.name
    where = f"{account.host}:{account.port}"
    reason = _reason(exc)
    if password is not None and password.reveal():
        reason = reason.replace(password.reveal(), "********")

    if isinstance(exc, LoginError):
        return AuthenticationError(
            f"account {name!r}: {account.host} rejected the login of {account.username!r}: "
            f"{reason.rstrip('.')}; check the password (`triage login {name}`)"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = str(exc.verify_message or reason).rstrip(".")
        if exc.verify_code == _X509_HOSTNAME_MISMATCH:
            hint = (
                f"set host for account {name!r} to a name the certificate lists (the name "
                "your provider documents for IMAP)"
            )
        elif exc.verify_code in _X509_UNKNOWN_ISSUER:
            hint = (
                "if the server uses its own certificate authority, set ca_file for account "
                f"{name!r} to that CA's certificate"
            )
        else:
            hint = "the server's certificate must be fixed (or its clock, or this machine's)"
        return TLSError(
            f"account {name!r}: the TLS certificate of {where} is not trusted ({detail}); {hint}"
        )
    if isinstance(exc, ssl.SSLError):
        hint = ""
        if str(getattr(exc, "reason", "")) in _NOT_TLS_REASONS:
            hint = (
                f"; does port {account.port} speak TLS from the start? Port 993 uses "
                'tls = "implicit", port 143 tls = "starttls"'
            )
        return TLSError(f"account {name!r}: TLS with {where} failed ({reason}){hint}")
    if isinstance(exc, socket.gaierror):
        return ConnectionLostError(
            f"account {name!r}: cannot resolve the host name {account.host!r} ({reason})"
        )
    if isinstance(exc, TimeoutError):
        hint = ""
        if account.port == 993 and account.tls != "implicit":
            hint = '; port 993 normally needs tls = "implicit"'
        return ConnectionLostError(
            f"account {name!r}: {where} did not answer within {timeout:g} s during {action}{hint}"
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionLostError(f"account {name!r}: {where} refused the connection")
    if isinstance(exc, OSError):
        return ConnectionLostError(
            f"account {name!r}: the connection to {where} failed during {action}: {reason}"
        )
    if isinstance(exc, IMAPClientAbortError):
        return ConnectionLostError(
            f"account {name!r}: {where} closed the connection during {action}: {reason}"
        )
    if isinstance(exc, IMAPClientError):
        return MailboxError(f"account {name!r}: {action} failed on {where}: {reason}")
    return MailboxError(
        f"account {name!r}: unexpected {type(exc).__name__} during {action} on {where}: {reason}"
    )
