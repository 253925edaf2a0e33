"""`triage login`: checks the password with the server, then stores it in the keyring."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from conftest import MemoryKeyring
from dovecot import TestAccount

from triage.cli import main


def login(
    argv: list[str],
    password: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    code = main(["login", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def config_file(tmp_path: Path, imap_account: TestAccount, tls: str = "implicit") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(imap_account.config_toml(tls))  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_login_verifies_then_stores(
    tmp_path: Path,
    imap_account: TestAccount,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tls: str,
) -> None:
    path = config_file(tmp_path, imap_account, tls)
    code, out, err = login(
        ["test", "--config", str(path), "--password-stdin"],
        imap_account.password,
        monkeypatch,
        capsys,
    )
    assert (code, err) == (0, "")
    assert "Logged in" in out and "Stored" in out
    assert memory_keyring.passwords == {("triage", "test"): imap_account.password}
    assert imap_account.password not in out


def test_wrong_password_is_not_stored(
    tmp_path: Path,
    imap_account: TestAccount,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = config_file(tmp_path, imap_account)
    code, out, err = login(
        ["test", "--config", str(path), "--password-stdin"], "not-it", monkeypatch, capsys
    )
    assert code == 4
    assert "rejected the login" in err and "not stored" in err
    assert "not-it" not in err + out
    assert len(err.strip().splitlines()) == 1
    assert memory_keyring.passwords == {}


def test_no_verify_stores_without_a_server(
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        path = tmp_path / "config.toml"
        path.write_text(
            f'[[account]]\nname = "offline"\nhost = "127.0.0.1"\nport = {port}\n'
            'username = "me@h.example"\n'
        )
        code, out, _ = login(
            ["offline", "--config", str(path), "--password-stdin", "--no-verify"],
            "pw",
            monkeypatch,
            capsys,
        )
    assert code == 0
    assert "Logged in" not in out
    assert memory_keyring.passwords == {("triage", "offline"): "pw"}


def test_without_a_terminal_it_does_not_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[account]]\nname = "a"\nhost = "h.example"\nusername = "me@h.example"\n')

    def no_prompt(*_: object) -> str:
        raise AssertionError("prompted without a terminal")

    monkeypatch.setattr("getpass.getpass", no_prompt)
    code, _, err = login(["a", "--config", str(path)], "pw", monkeypatch, capsys)
    assert code == 3
    assert "--password-stdin" in err and "password_command" in err


def test_empty_password_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[account]]\nname = "a"\nhost = "h.example"\nusername = "me@h.example"\n')
    code, _, err = login(
        ["a", "--config", str(path), "--password-stdin", "--no-verify"], "", monkeypatch, capsys
    )
    assert code == 3 and "nothing stored" in err


def test_without_a_keyring_it_points_to_password_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    path = tmp_path / "config.toml"
    path.write_text('[[account]]\nname = "a"\nhost = "h.example"\nusername = "me@h.example"\n')
    code, _, err = login(
        ["a", "--config", str(path), "--password-stdin", "--no-verify"],
        "pw-123",
        monkeypatch,
        capsys,
    )
    assert code == 3
    assert "no OS keyring" in err and "password_command" in err
    assert "pw-123" not in err


@pytest.mark.parametrize(
    "command",
    ["", 'password_command = "pass show mail"\n'],
    ids=["no-password-command", "password-command-set"],
)
def test_without_a_keyring_it_says_so_before_asking(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    """Issue 13, item 5: it prompted, logged in, and only then said it could not store."""
    keyring.set_keyring(keyring.backends.fail.Keyring())
    path = tmp_path / "config.toml"
    path.write_text(
        f'[[account]]\nname = "a"\nhost = "h.example"\nusername = "me@h.example"\n{command}'
    )

    def no_prompt(*_: object) -> str:
        raise AssertionError("asked for a password that could not be stored")

    monkeypatch.setattr("getpass.getpass", no_prompt)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    code, _, err = login(["a", "--config", str(path)], "", monkeypatch, capsys)
    assert code == 3 and "no OS keyring" in err
    assert ("already gets its password from password_command" in err) == bool(command)


def test_login_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["login", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--no-verify" in out and "--config" in out and "ACCOUNT" in out
