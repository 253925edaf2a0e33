"""Access tokens at run time: where a connection gets the secret it signs in with.

An access token lives about an hour. `RefreshTokens` keeps the current one in memory and gets
a new one from the provider's token endpoint with the refresh token from the OS keyring,
shortly before it expires or when the server refused it. `CommandTokens` asks the account's
`oauth2_command` instead. Neither token is written anywhere but the keyring (and only the
refresh token, when the provider sends a new one).

A refresh token the provider no longer accepts (revoked, expired, password changed) is a
`CredentialError` naming `triage login NAME`: the daemon stops the account on it instead of
trying again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from triage.config import Account
from triage.errors import ConnectionLostError, CredentialError, TriageError
from triage.mail.credentials import Secret, read_keyring, run_secret_command, store_password
from triage.oauth2.endpoint import OAuth2Error, post_form
from triage.oauth2.settings import OAuth2Config

log = logging.getLogger(__name__)

EARLY_SECONDS = 300.0  # refresh this long before expiry (at most half the token's lifetime)
DEFAULT_LIFETIME = 3600  # when the provider does not say (RFC 6749 makes expires_in optional)
_CLIENT_REJECTED = {"invalid_client", "unauthorized_client"}


@dataclass(frozen=True)
class Grant:
    """What the token endpoint handed out; `renew_at` is a time.time() value."""

    access: Secret
    renew_at: float
    refresh: Secret | None = None


def settings(account: Account) -> OAuth2Config:
    """The account's OAuth2 settings (a CredentialError for a password account)."""
    if account.oauth2 is None:
        raise CredentialError(
            f'account {account.name!r} does not sign in with OAuth2 (auth = "oauth2" in the config)'
        )
    return account.oauth2


def request_tokens(account: Account, form: dict[str, str]) -> Grant:
    """POST a grant to the account's token endpoint with its client's credentials.

    The provider's refusal stays an OAuth2Error (the device flow waits on some of them);
    `explain` turns it into what the user should do.
    """
    config = settings(account)
    form = {**form, "client_id": config.client_id}
    if config.client_secret:
        form["client_secret"] = config.client_secret
    started = time.time()
    answer = post_form(config.token_url, form)
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise CredentialError(f"account {account.name!r}: the token endpoint sent no access_token")
    lifetime = answer.get("expires_in", DEFAULT_LIFETIME)
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
        lifetime = DEFAULT_LIFETIME
    refresh = answer.get("refresh_token")
    return Grant(
        Secret(access, "oauth2"),
        started + lifetime - min(EARLY_SECONDS, lifetime / 2),
        Secret(refresh, "oauth2") if isinstance(refresh, str) and refresh else None,
    )


def explain(account: Account, exc: OAuth2Error) -> TriageError:
    """The provider's refusal as one line that says what to do."""
    name = account.name
    if exc.code == "invalid_grant":
        return CredentialError(
            f"account {name!r}: the OAuth2 sign-in has expired or was "
            f"revoked ({exc}); run `triage login {name}` to sign in again"
        )
    if exc.code in _CLIENT_REJECTED:
        client_id = settings(account).client_id
        return CredentialError(
            f"account {name!r}: the provider does not accept the client "
            f"ID {client_id!r} ({exc}); check oauth2_client_id (and "
            "oauth2_client_secret) against your app registration"
        )
    if exc.code == "temporarily_unavailable":
        return ConnectionLostError(f"account {name!r}: {exc}")
    return CredentialError(
        f"account {name!r}: OAuth2 failed ({exc}); run `triage login {name}` to sign in again"
    )


class RefreshTokens:
    """Access tokens from the refresh token in the keyring; one refresh at a time."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self._grant: Grant | None = None
        self._refresh: Secret | None = None
        self._lock = threading.Lock()  # the folders of an account connect from several threads

    def secret(self) -> Secret:
        """The current access token, refreshed first when it expires soon."""
        with self._lock:
            grant = self._grant
            if grant is None or time.time() >= grant.renew_at:
                grant = self._renew()
            return grant.access

    def renew(self, refused: Secret) -> Secret:
        """A new access token after the server refused `refused` (unless another thread has
        got one meanwhile)."""
        with self._lock:
            if self._grant is None or self._grant.access == refused:
                self._grant = None
                return self._renew().access
            return self._grant.access

    def _renew(self) -> Grant:
        name = self.account.name
        if self._refresh is None:
            self._refresh, problem = read_keyring(self.account)
            if problem:
                raise CredentialError(
                    f"account {name!r}: cannot read its OAuth2 sign-in: "
                    f"{problem}; set oauth2_command for it instead"
                )
            if self._refresh is None:
                raise CredentialError(
                    f"account {name!r} is not signed in yet: run `triage login {name}`"
                )
        try:
            grant = request_tokens(
                self.account,
                {"grant_type": "refresh_token", "refresh_token": self._refresh.reveal()},
            )
        except OAuth2Error as exc:
            raise explain(self.account, exc) from None
        if grant.refresh is not None and grant.refresh != self._refresh:
            store_password(self.account, grant.refresh)  # providers that rotate refresh tokens
            self._refresh = grant.refresh
        log.info("account %s: new OAuth2 access token", name)
        self._grant = grant
        return grant


class CommandTokens:
    """Access tokens printed by the account's `oauth2_command`, asked for on every connect
    (token helpers cache and refresh by themselves)."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def secret(self) -> Secret:
        token = run_secret_command(
            settings(self.account).command,
            f"oauth2_command of account {self.account.name!r}",
            "access token",
        )
        return Secret(token, "oauth2_command")

    def renew(self, refused: Secret) -> Secret:
        return self.secret()
