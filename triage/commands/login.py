"""`triage login ACCOUNT`: ask for an account's password, check it with the server, store it.

For an account with auth = "oauth2" it signs in at the provider instead (`triage.oauth2.login`).

The password goes into the OS keyring under the service "triage" with the account name as the
key; `triage run` and the other commands find it there. On a machine without a keyring, set the
account's `password_command` instead.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from triage.config import Account, add_config_argument, load_config
from triage.errors import CredentialError, MailboxError
from triage.mail.credentials import Secret, check_keyring, keyring_backend_name, store_password
from triage.mail.imap import connect


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "login",
        help="store an account's password (or OAuth2 sign-in) in the OS keyring",
        description=(
            "Ask for the password of ACCOUNT (without echo), log in to its server to check it, "
            "and store it in the OS keyring. For Gmail, use an app password. For an account "
            'with auth = "oauth2", sign in at the provider instead (a code to enter on any '
            "device for Microsoft, the browser for Google) and store the refresh token."
        ),
    )
    parser.add_argument("account", metavar="ACCOUNT", help="the account's name in the config")
    add_config_argument(parser)
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="store the password without logging in to the server first",
    )
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of prompting",
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="OAuth2 in the browser: print the address to open instead of opening a browser, "
        "and read back the address the browser ends up at",
    )
    parser.set_defaults(func=run)


def _read_password(account: Account, from_stdin: bool) -> Secret:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise CredentialError(
                "no terminal to ask for the password on: pass it on standard input with "
                f"`triage login {account.name} --password-stdin`, or set password_command for "
                f"account {account.name!r} in the config"
            )
        try:
            value = getpass.getpass(f"Password for {account.username} at {account.host}: ")
        except EOFError:
            value = ""
    if not value:
        raise CredentialError(f"no password given for account {account.name!r}; nothing stored")
    return Secret(value)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    account = config.account(args.account)
    if account.auth == "oauth2":
        from triage.oauth2.login import login, no_browser, open_browser

        return login(
            account,
            verify=not args.no_verify,
            browser=no_browser if args.no_browser else open_browser,
        )
    check_keyring(account)  # where the password would go, before asking for it
    password = _read_password(account, args.password_stdin)

    if not args.no_verify:
        try:
            with connect(account, password):
                pass
        except MailboxError as exc:
            raise type(exc)(
                f"{exc}; the password was not stored (--no-verify stores it without checking)"
            ) from None
        print(f"Logged in to {account.host}:{account.port} as {account.username}.")

    store_password(account, password)
    print(
        f"Stored the password of account {account.name!r} in the OS keyring "
        f"({keyring_backend_name()}, service 'triage')."
    )
    if account.password_command:
        print(f"The keyring is tried before password_command, so {account.name!r} now uses it.")
    return 0
