"""`triage login NAME` for OAuth2 accounts, against the stand-in provider and the OAuth2 Dovecot.

The device flow (the test plays the user typing the code in), the browser flow with its
loopback redirect (the test's "browser" fetches the authorize URL and follows the redirect),
and the paste-the-address fallback (the "browser" is elsewhere: the test pastes the address it
was sent to). Each ends with the refresh token in the keyring and nothing secret printed.
"""

from __future__ import annotations

import io
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import MemoryKeyring
from oauth2_server import AuthServer
from oauth2_support import OAuth2Dovecot, oauth2_mailbox, oauth2_toml

from triage.cli import main
from triage.config import load_config, parse_config
from triage.errors import CredentialError
from triage.oauth2.flows import DEVICE_GRANT, browser_flow
from triage.oauth2.login import login


def config_path(
    tmp_path: Path,
    provider: AuthServer,
    server: OAuth2Dovecot,
    *,
    device: bool = True,
    command: str = "",
) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        oauth2_toml(oauth2_mailbox(server, provider), provider, device=device, command=command)
    )
    return path


def stored(memory_keyring: MemoryKeyring) -> str:
    return memory_keyring.passwords[("triage", "test/oauth2")]


def assert_no_token_in(text: str, provider: AuthServer) -> None:
    assert provider.issued, "the provider issued nothing"
    for token in provider.issued:
        assert token not in text


class Terminal(io.StringIO):
    """stdin and stdout in one: what is typed in is `reply(everything printed so far)`."""

    def __init__(self, reply: Callable[[str], str]) -> None:
        super().__init__()
        self.reply = reply

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self.reply(self.getvalue()) + "\n"

    def isatty(self) -> bool:
        return False


def authorize_url(printed: str) -> str:
    return next(word for word in printed.split() if "/authorize?" in word)


def visit(url: str) -> str:
    """A browser on another machine: sign in, and see where it was sent (without going)."""

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        urllib.request.build_opener(Stay).open(url, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 302
        return str(exc.headers["Location"])
    raise AssertionError("the authorize endpoint did not redirect")


@pytest.fixture
def user(provider: AuthServer) -> Iterator[list[str]]:
    """Enters each code shown at the verification page, once triage is waiting for it; the
    codes entered."""
    entered: list[str] = []
    done = threading.Event()

    def play() -> None:
        while not done.is_set():
            if DEVICE_GRANT in provider.grants:  # triage has polled: "authorization_pending"
                entered.extend(provider.approve_all())
            done.wait(0.02)

    threading.Thread(target=play, daemon=True).start()
    yield entered
    done.set()


def test_device_flow(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    user: list[str],
) -> None:
    path = config_path(tmp_path, provider, oauth2_dovecot)
    code = main(["login", "test", "--config", str(path)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert f"open {provider.url}/devicelogin and enter the code {user[0]}" in out
    assert "Logged in to" in out and "Stored the OAuth2 sign-in of account 'test'" in out
    assert stored(memory_keyring) in provider.issued
    assert provider.grants.count(DEVICE_GRANT) >= 2  # "authorization_pending", then tokens
    assert_no_token_in(out, provider)


def test_browser_flow_with_the_loopback_redirect(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = load_config(config_path(tmp_path, provider, oauth2_dovecot, device=False)).account(
        "test"
    )
    pages: list[bytes] = []

    def browser(url: str) -> bool:  # follows the redirect to triage's loopback server
        def go() -> None:
            with urllib.request.urlopen(url, timeout=10) as response:
                pages.append(response.read())

        threading.Thread(target=go, daemon=True).start()
        return True

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # nobody pastes anything
    assert login(account, verify=True, browser=browser) == 0
    out = capsys.readouterr().out
    assert "Your browser shows the sign-in page now" in out
    assert pages and b"Signed in" in pages[0]
    assert provider.grants == ["authorization_code"]  # with the PKCE verifier: checked there
    assert stored(memory_keyring) in provider.issued
    assert_no_token_in(out, provider)


def login_no_browser(
    tmp_path: Path,
    provider: AuthServer,
    server: OAuth2Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    paste: Callable[[str], str],
) -> tuple[int, str]:
    """`triage login test --no-browser`, pasting `paste(what it printed)`: (code, printed)."""
    path = config_path(tmp_path, provider, server, device=False)
    terminal = Terminal(paste)
    monkeypatch.setattr("sys.stdin", terminal)
    monkeypatch.setattr("sys.stdout", terminal)
    return main(["login", "test", "--config", str(path), "--no-browser"]), terminal.getvalue()


def test_no_browser_pastes_the_address(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, printed = login_no_browser(
        tmp_path,
        provider,
        oauth2_dovecot,
        monkeypatch,
        lambda printed: visit(authorize_url(printed)),
    )
    assert code == 0, capsys.readouterr().err
    assert "paste it here" in printed and "Stored the OAuth2 sign-in" in printed
    assert stored(memory_keyring) in provider.issued
    assert_no_token_in(printed, provider)


def test_pasting_another_address_stores_nothing(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale = "http://127.0.0.1:1/?code=old&state=from-another-try"
    code, printed = login_no_browser(
        tmp_path, provider, oauth2_dovecot, monkeypatch, lambda printed: stale
    )
    err = capsys.readouterr().err
    assert code == 3
    assert "not the address this sign-in ended at" in err and len(err.splitlines()) == 1
    assert memory_keyring.passwords == {}


def test_wrong_client_id(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = config_path(tmp_path, provider, oauth2_dovecot)
    provider.client_id = "the-registered-one"
    code = main(["login", "test", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 3
    assert len(err.splitlines()) == 1
    assert "does not accept the client ID 'test-client'" in err
    assert "Application not found" in err  # the provider's own words
    assert memory_keyring.passwords == {}


def test_a_sign_in_the_server_refuses_is_not_stored(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    user: list[str],
) -> None:
    """Signed in as someone else than the config's username: Dovecot says no."""
    path = config_path(tmp_path, provider, oauth2_dovecot)
    path.write_text(path.read_text().replace(provider.username, "someone.else@example.test"))
    code = main(["login", "test", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 4
    assert "rejected the login" in err and "the sign-in was not stored" in err
    assert memory_keyring.passwords == {}
    assert_no_token_in(err, provider)


def test_token_command_accounts_have_nothing_to_log_in(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = config_path(tmp_path, provider, oauth2_dovecot, command="oama access me")
    assert main(["login", "test", "--config", str(path)]) == 3
    assert "oauth2_command: there is nothing to sign in to" in capsys.readouterr().err


def test_google_is_asked_for_a_refresh_token_with_pkce() -> None:
    """Google sends a refresh token only with access_type=offline, and again only with
    prompt=consent; the URL is checked here without going anywhere."""
    account = parse_config(
        '[[account]]\nname = "gmail"\nhost = "imap.gmail.com"\nusername = "me@gmail.com"\n'
        'auth = "oauth2"\noauth2_provider = "google"\noauth2_client_id = "cid"\n'
        'oauth2_client_secret = "s"\n',
        Path("/c.toml"),
    ).account("gmail")
    shown: list[str] = []

    def no_browser_here(url: str) -> bool:
        shown.append(url)
        return False

    with pytest.raises(CredentialError, match="no sign-in within 0.2 s; nothing stored"):
        browser_flow(
            account,
            say=shown.append,
            read_line=lambda: "",
            open_browser=no_browser_here,
            timeout=0.2,
        )
    url = urllib.parse.urlsplit(shown[0])
    query = dict(urllib.parse.parse_qsl(url.query))
    assert url.netloc == "accounts.google.com"
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["scope"] == "https://mail.google.com/" and query["client_id"] == "cid"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["redirect_uri"].startswith("http://127.0.0.1:")
    assert "paste it here" in shown[1]
