"""Account passwords: the OS keyring first, then the account's `password_command`.

The keyring also keeps the OAuth2 refresh token of an `auth = "oauth2"` account (under the key
"NAME/oauth2", see `keyring_key`); `triage.oauth2.tokens` turns it into access tokens.

Nothing here ever prompts. `triage login NAME` is the one place that asks for a password (and it
stores it with `store_password`); every other command, and the daemon under systemd or launchd,
either finds a password or fails at once with a `CredentialError` that names the fix.

Passwords travel as `Secret` values whose repr is masked, so a password cannot leak into a log
line, an error message or a traceback's locals by accident. Only the IMAP adapter calls
`Secret.reveal()`.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import signal
import subprocess

import keyring
import keyring.backends.fail
import keyring.errors

from triage.config import Account
from triage.errors import CredentialError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "triage"
PASSWORD_COMMAND_TIMEOUT = 60.0  # seconds; long enough to type a GPG passphrase into pinentry


class Secret:
    """A password that does not show itself in reprs, str() or f-strings."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        self.source = source  # "keyring", "password_command", or "" (typed in)

    def reveal(self) -> str:
        """The password itself: only for handing to the server."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> str:
        raise TypeError("a Secret is not picklable")


def keyring_backend_name() -> str:
    """A human-readable name of the keyring backend in use (for messages)."""
    backend = keyring.get_keyring()
    name = getattr(backend, "name", "")
    return name if isinstance(name, str) and name else type(backend).__name__


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "********") if secret else text


def _fix_hint(account: Account) -> str:
    return (
        f"run `triage login {account.name}` to store it in the OS keyring, or set "
        f"password_command for account {account.name!r} in the config"
    )


def keyring_key(account: Account) -> str:
    """The keyring entry of an account: its name, or "NAME/oauth2" for its refresh token (a
    name cannot contain "/", and switching `auth` must not read one as the other)."""
    return f"{account.name}/oauth2" if account.auth == "oauth2" else account.name


def read_keyring(account: Account) -> tuple[Secret | None, str]:
    """(what the keyring holds for `account` or None, why it could not be asked or "")."""
    try:
        stored = keyring.get_password(KEYRING_SERVICE, keyring_key(account))
    except keyring.errors.NoKeyringError:
        return None, "no OS keyring is available on this machine"
    except Exception as exc:  # a backend's own failure (D-Bus, locked keychain, ...)
        return None, f"the OS keyring failed ({type(exc).__name__}: {exc})"
    return (Secret(stored, "keyring") if stored else None), ""


def get_password(account: Account, *, timeout: float = PASSWORD_COMMAND_TIMEOUT) -> Secret:
    """The password of `account`: from the keyring, else from its `password_command`.

    Raises CredentialError naming the fix when there is none; never prompts.
    """
    stored, keyring_problem = read_keyring(account)
    if stored is not None:
        log.debug("account %s: password from the keyring", account.name)
        return stored

    if account.password_command:
        if keyring_problem:
            log.debug("account %s: %s; using password_command", account.name, keyring_problem)
        return Secret(run_password_command(account, timeout=timeout), "password_command")

    if keyring_problem:
        raise CredentialError(
            f"no password for account {account.name!r}: {keyring_problem}; set "
            f"password_command for account {account.name!r} in the config (for example "
            f'password_command = "pass show mail/{account.name}"), or install a keyring '
            f"backend and run `triage login {account.name}`"
        )
    raise CredentialError(f"no password for account {account.name!r}: {_fix_hint(account)}")


def run_password_command(account: Account, *, timeout: float = PASSWORD_COMMAND_TIMEOUT) -> str:
    """The first line the account's `password_command` prints (see `run_secret_command`)."""
    return run_secret_command(
        account.password_command,
        f"password_command of account {account.name!r}",
        "password",
        timeout=timeout,
    )


def run_secret_command(
    command: str, what: str, noun: str, *, timeout: float = PASSWORD_COMMAND_TIMEOUT
) -> str:
    """Run a helper command via the shell; the first line it prints is the secret (`noun`).

    The command itself is never quoted in errors (it may embed a secret) and its standard output
    never appears anywhere but in the return value.
    """
    try:
        process = subprocess.Popen(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so a timeout can kill everything it started
        )
    except OSError as exc:
        raise CredentialError(f"{what} could not be started: {exc.strerror or exc}") from None
    try:
        out, _err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise CredentialError(
            f"{what} did not finish within {timeout:g} s (does it wait for input?)"
        ) from None

    first_line = out.split(b"\n", 1)[0].rstrip(b"\r")
    if process.returncode != 0:
        # Nothing it printed is shown, stderr included: a helper may print the secret there.
        raise CredentialError(
            f"{what} failed with exit status {process.returncode} (what it printed is not shown, "
            f"as it may hold the {noun}: run the command in a shell to see why)"
        )
    try:
        secret = first_line.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialError(f"{what} printed something that is not UTF-8 text") from None
    if not secret:
        raise CredentialError(f"{what} printed no {noun} on its first line of output")
    return secret


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)


def _no_keyring(account: Account) -> CredentialError:
    if account.auth == "oauth2":
        return CredentialError(
            f"cannot keep the OAuth2 sign-in of account {account.name!r}: no OS keyring is "
            f"available on this machine; set oauth2_command for account {account.name!r} to a "
            "token helper instead"
        )
    if account.password_command:
        return CredentialError(
            f"no OS keyring is available on this machine, and account {account.name!r} already "
            f"gets its password from password_command: there is nothing to store"
        )
    return CredentialError(
        f"cannot store the password of account {account.name!r}: no OS keyring is available "
        f"on this machine; set password_command for account {account.name!r} in the config "
        "instead"
    )


def check_keyring(account: Account) -> None:
    """CredentialError, before anyone types a password, when there is no keyring to keep it."""
    if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        raise _no_keyring(account)


def store_password(account: Account, password: Secret) -> None:
    """Save the password (or OAuth2 refresh token) of `account` in the OS keyring (service
    "triage", key: `keyring_key`)."""
    try:
        keyring.set_password(KEYRING_SERVICE, keyring_key(account), password.reveal())
    except keyring.errors.NoKeyringError:
        raise _no_keyring(account) from None
    except Exception as exc:
        message = _redact(str(exc), password.reveal())
        what, helper = (
            ("OAuth2 sign-in", "oauth2_command")
            if account.auth == "oauth2"
            else ("password", "password_command")
        )
        raise CredentialError(
            f"cannot store the {what} of account {account.name!r}: the OS keyring "
            f"({keyring_backend_name()}) refused it ({type(exc).__name__}: {message}); set "
            f"{helper} for account {account.name!r} in the config instead"
        ) from None
