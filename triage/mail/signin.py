"""Connecting an account with the right secret: a password, or an OAuth2 access token.

`Connector` is what every command that talks to a server uses (`triage run`, `drafts`,
`explain`): each account's credentials are looked up once per process and kept in memory
only. An OAuth2 account whose access token the server refuses gets one new token and one
more try; a second refusal is an `AuthenticationError`, which the daemon never retries.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from triage.config import Account
from triage.errors import AuthenticationError
from triage.mail.credentials import Secret, get_password
from triage.mail.imap import DEFAULT_TIMEOUT, ImapSession, connect

log = logging.getLogger(__name__)


class Credentials(Protocol):
    def secret(self) -> Secret:
        """What to sign in with now."""

    def renew(self, refused: Secret) -> Secret | None:
        """What to sign in with after the server refused `refused`; None: nothing else."""


class Password:
    """The account's password from the keyring or `password_command`, asked for once."""

    def __init__(self, account: Account) -> None:
        self._password = get_password(account)

    def secret(self) -> Secret:
        return self._password

    def renew(self, refused: Secret) -> Secret | None:
        return None


def credentials(account: Account) -> Credentials:
    """Where `account` gets the secret it signs in with."""
    if account.auth != "oauth2":
        return Password(account)
    from triage.oauth2.tokens import CommandTokens, RefreshTokens

    if account.oauth2 is not None and account.oauth2.command:
        return CommandTokens(account)
    return RefreshTokens(account)


class Connector:
    """Opens sessions for accounts: `connector(account)` -> a logged-in ImapSession."""

    def __init__(self, *, readonly: bool = False, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.readonly = readonly
        self.timeout = timeout
        self._credentials: dict[str, Credentials] = {}
        self._lock = threading.Lock()

    def __call__(self, account: Account) -> ImapSession:
        with self._lock:
            found = self._credentials.get(account.name)
            if found is None:
                found = self._credentials[account.name] = credentials(account)
        secret = found.secret()
        try:
            return connect(account, secret, readonly=self.readonly, timeout=self.timeout)
        except AuthenticationError:
            again = found.renew(secret)
            if again is None:
                raise
            log.info(
                "account %s: the server refused the access token; trying a new one", account.name
            )
            return connect(account, again, readonly=self.readonly, timeout=self.timeout)
