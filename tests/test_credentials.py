"""Credential order (keyring, then password_command), clear errors, and no leaked secrets."""

from __future__ import annotations

import time

import keyring
import keyring.backends.fail
import pytest
from conftest import MemoryKeyring

from triage.config import Account
from triage.errors import CredentialError
from triage.mail.credentials import (
    KEYRING_SERVICE,
    Secret,
    get_password,
    run_password_command,
    store_password,
)

SECRET = "s3cret-Pa55"


def account(password_command: str = "") -> Account:
    return Account(
        name="personal",
        host="imap.example.com",
        username="me@example.com",
        password_command=password_command,
    )


def test_keyring_comes_first(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(KEYRING_SERVICE, "personal", SECRET)
    got = get_password(account(password_command="echo from-command"))
    assert got.reveal() == SECRET


def test_password_command_when_the_keyring_has_nothing() -> None:
    got = get_password(account(password_command=f"printf '%s\\n' {SECRET}"))
    assert got.reveal() == SECRET  # trailing newline stripped


def test_password_command_first_line_only() -> None:
    # `pass show NAME` prints the password on the first line, then metadata
    got = get_password(account(password_command=f"printf '{SECRET}\\r\\nuser: me\\n'"))
    assert got.reveal() == SECRET


def test_password_command_without_trailing_newline() -> None:
    assert run_password_command(account(f"printf {SECRET}")) == SECRET


def test_missing_credential_names_both_fixes() -> None:
    started = time.monotonic()
    with pytest.raises(CredentialError) as info:
        get_password(account())
    assert time.monotonic() - started < 2  # no prompt, no hang
    message = str(info.value)
    assert "triage login personal" in message
    assert "password_command" in message
    assert info.value.exit_code == 3


def test_failing_password_command_hides_its_stdout() -> None:
    command = f"echo {SECRET}; echo 'gpg: decryption failed: No secret key' >&2; exit 2"
    with pytest.raises(CredentialError) as info:
        get_password(account(command))
    message = str(info.value)
    assert "exit status 2" in message
    assert "decryption failed" not in message  # stderr is not shown either: see below
    assert SECRET not in message
    assert "echo" not in message  # the command line itself is not quoted either


@pytest.mark.parametrize(
    "command",
    [
        f"echo {SECRET}; echo 'oops {SECRET}' >&2; exit 1",
        f"echo 'password is {SECRET}' >&2; exit 1",  # the secret on stderr only (issue 10, item 6)
        f"printf '{SECRET[:6]}\\n{SECRET[6:]}' >&2; exit 1",
    ],
    ids=["stdout-and-stderr", "stderr-only", "stderr-split"],
)
def test_no_output_of_a_failing_password_command_is_shown(command: str) -> None:
    with pytest.raises(CredentialError) as info:
        get_password(account(command))
    assert SECRET[:6] not in str(info.value) and SECRET[6:] not in str(info.value)


def test_password_command_timeout_kills_it() -> None:
    started = time.monotonic()
    with pytest.raises(CredentialError, match="did not finish within 0.5 s"):
        get_password(account("sleep 30"), timeout=0.5)
    assert time.monotonic() - started < 5


def test_password_command_printing_nothing() -> None:
    with pytest.raises(CredentialError, match="printed no password"):
        get_password(account("true"))


def test_password_command_not_found() -> None:
    with pytest.raises(CredentialError, match="exit status 127"):
        get_password(account("/nonexistent/triage-password-helper"))


def test_no_keyring_suggests_password_command() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(CredentialError) as info:
        get_password(account())
    message = str(info.value)
    assert "no OS keyring" in message
    assert "password_command" in message
    # ... and with a password_command the missing keyring does not matter
    assert get_password(account(f"echo {SECRET}")).reveal() == SECRET


class BrokenKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("D-Bus is not running")


def test_broken_keyring_falls_back_to_password_command() -> None:
    keyring.set_keyring(BrokenKeyring())
    assert get_password(account(f"echo {SECRET}")).reveal() == SECRET
    with pytest.raises(CredentialError, match="D-Bus is not running"):
        get_password(account())


def test_store_password_uses_service_triage_and_account_name(
    memory_keyring: MemoryKeyring,
) -> None:
    store_password(account(), Secret(SECRET))
    assert memory_keyring.passwords == {("triage", "personal"): SECRET}
    assert get_password(account()).reveal() == SECRET


def test_store_without_keyring_suggests_password_command() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(CredentialError) as info:
        store_password(account(), Secret(SECRET))
    assert "password_command" in str(info.value)
    assert SECRET not in str(info.value)


def test_secret_never_shows_itself() -> None:
    secret = Secret(SECRET)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert SECRET not in text
    assert secret == Secret(SECRET) and secret != Secret("other")
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)
