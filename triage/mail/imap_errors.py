"""Library and socket exceptions turned into triage's own errors, at the IMAP boundary.

It exists so that no imapclient, imaplib, ssl or socket exception leaves the adapter: each
becomes an `AuthenticationError`, `TLSError`, `ConnectionLostError` or `MailboxError` whose one
line names the account, the server and what to change. The password (or access token) is
blanked out of any server text it might appear in.
"""

from __future__ import annotations

import re
import socket
import ssl

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from triage.config import Account
from triage.errors import (
    AuthenticationError,
    ConnectionLostError,
    MailboxError,
    TLSError,
)
from triage.mail.credentials import Secret

# What the library and the network raise; anything else is a bug and propagates as it is.
LIBRARY_ERRORS = (IMAPClientError, OSError, EOFError)

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


def reason_of(exc: BaseException) -> str:
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
    reason = reason_of(exc)
    if password is not None and password.reveal():
        reason = reason.replace(password.reveal(), "********")

    if isinstance(exc, LoginError):
        # the fix depends on where the password (or access token) came from
        source = password.source if password is not None else ""
        what = "the sign-in" if account.auth == "oauth2" else "the password"
        fix = (
            f"check what {source} for account {name!r} prints"
            if source in ("password_command", "oauth2_command")
            else f"`triage login {name}`"
        )
        return AuthenticationError(
            f"account {name!r}: {account.host} rejected the login of {account.username!r}: "
            f"{reason.rstrip('.')}; check {what} ({fix})"
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
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        # The peer closed the TLS connection (a server restart, an idle timeout): retryable.
        return ConnectionLostError(
            f"account {name!r}: {where} closed the connection during {action}: {reason}"
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
