"""`triage login NAME` for an OAuth2 account: sign in, check with the server, keep the token.

Only the refresh token is kept, in the OS keyring (`triage.mail.credentials`); the access token the
flow ends with is used once, to log in to the server before anything is stored.
"""

from __future__ import annotations

import os
import sys
import webbrowser
from collections.abc import Callable

from triage.config import Account
from triage.errors import CredentialError, MailboxError
from triage.mail.credentials import check_keyring, keyring_backend_name, store_password
from triage.mail.imap import connect
from triage.oauth2.flows import sign_in


def open_browser(url: str) -> bool:
    """Open `url` in a graphical browser; False where there is none (a console browser would
    take over the terminal the user must read)."""
    graphical = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not (graphical or os.environ.get("BROWSER")):
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def no_browser(url: str) -> bool:
    return False


def login(account: Account, *, verify: bool, browser: Callable[[str], bool] = open_browser) -> int:
    """Sign in with the account's flow and store its refresh token; 0 when done."""
    if account.oauth2 is None or account.oauth2.command:
        raise CredentialError(
            f"account {account.name!r} gets its access tokens from "
            "oauth2_command: there is nothing to sign in to or store"
        )
    check_keyring(account)  # where the token would go, before the user signs in

    def say(text: str) -> None:
        print(text, flush=True)

    grant = sign_in(account, say=say, read_line=sys.stdin.readline, open_browser=browser)
    if grant.refresh is None:
        raise CredentialError(
            f"account {account.name!r}: the provider sent no refresh token, "
            "so triage could not sign in again by itself (for a custom "
            "provider, add the scope it needs for that, often "
            '"offline_access"); nothing stored'
        )
    if verify:
        try:
            with connect(account, grant.access):
                pass
        except MailboxError as exc:
            raise type(exc)(
                f"{exc}; the sign-in was not stored (--no-verify stores it without checking)"
            ) from None
        print(f"Logged in to {account.host}:{account.port} as {account.username}.")
    store_password(account, grant.refresh)
    print(
        f"Stored the OAuth2 sign-in of account {account.name!r} in the OS keyring "
        f"({keyring_backend_name()}, service 'triage'); `triage run` renews its access "
        "tokens from it."
    )
    return 0
