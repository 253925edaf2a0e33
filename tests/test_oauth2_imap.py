"""OAuth2 at run time against a real Dovecot that checks tokens with the stand-in provider.

SASL OAUTHBEARER where offered, else XOAUTH2; access tokens from the keyring's refresh token,
refreshed before they expire and once after a refusal; a revoked sign-in stops the account
with one line; `oauth2_command`; and no token in any log line or in the state database.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from conftest import MemoryKeyring
from daemon_support import OFFENDER_TEXTS, build_daemon, mail, wait_for
from oauth2_server import AuthServer
from oauth2_support import OAuth2Dovecot, oauth2_mailbox, oauth2_toml
from test_daemon_faults import deliver_while_down

from triage.config import Account, parse_config
from triage.daemon.outcomes import Outcome
from triage.errors import AuthenticationError, CredentialError
from triage.mail.signin import Connector
from triage.model.classifier import Classifier


def account_for(
    tmp_path: Path, server: OAuth2Dovecot, provider: AuthServer, command: str = ""
) -> Account:
    path = tmp_path / "config.toml"
    toml = f'state_dir = "{tmp_path / "state"}"\n' + oauth2_toml(
        oauth2_mailbox(server, provider), provider, command=command
    )
    path.write_text(toml + '[drafts]\ndaily_cap = 1000\nfrom_name = "Sam Reader"\n')
    return parse_config(path.read_text(), path).account("test")


def signed_in(memory_keyring: MemoryKeyring, provider: AuthServer) -> str:
    refresh = provider.sign_in()
    memory_keyring.set_password("triage", "test/oauth2", refresh)
    return refresh


def connected_once(
    tmp_path: Path, provider: AuthServer, server: OAuth2Dovecot, memory_keyring: MemoryKeyring
) -> tuple[Account, Connector]:
    """A signed-in account and the connector that has connected it once."""
    account = account_for(tmp_path, server, provider)
    signed_in(memory_keyring, provider)
    connector = Connector(timeout=10)
    connector(account).close()
    return account, connector


def login_method(server: OAuth2Dovecot, username: str) -> str:
    lines = [
        line
        for line in (server.root / "dovecot.log").read_text().splitlines()
        if f"Login: user=<{username}>" in line
    ]
    return lines[-1].split("method=")[1].split(",")[0]


def test_oauthbearer_where_offered_and_the_token_is_refreshed_only_when_due(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
) -> None:
    account = account_for(tmp_path, oauth2_dovecot, provider)
    signed_in(memory_keyring, provider)
    connector = Connector(timeout=10)
    with connector(account) as session:
        assert session.label_style == "keywords"
    with connector(account):
        pass
    assert login_method(oauth2_dovecot, provider.username) == "OAUTHBEARER"
    assert provider.grants == ["refresh_token"]  # one access token for both connections
    assert provider.rejected == 0


def test_xoauth2_where_oauthbearer_is_not_offered(
    tmp_path: Path,
    provider: AuthServer,
    xoauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
) -> None:
    account = account_for(tmp_path, xoauth2_dovecot, provider)
    signed_in(memory_keyring, provider)
    with Connector(timeout=10)(account):
        pass
    assert login_method(xoauth2_dovecot, provider.username) == "XOAUTH2"


def test_refreshed_before_it_expires(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
) -> None:
    provider.access_lifetime = 2  # refreshed after half of it, 1 s
    account, connector = connected_once(tmp_path, provider, oauth2_dovecot, memory_keyring)
    threading.Event().wait(1.2)
    connector(account).close()
    assert provider.grants == ["refresh_token", "refresh_token"]
    assert provider.rejected == 0  # the server never saw an expired token


def test_refreshed_once_when_the_server_refuses_the_token(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
) -> None:
    account, connector = connected_once(tmp_path, provider, oauth2_dovecot, memory_keyring)
    provider.expire_access_tokens()  # early, as a provider may do
    connector(account).close()
    assert provider.grants == ["refresh_token", "refresh_token"]
    assert provider.rejected == 1


def test_a_rotated_refresh_token_replaces_the_stored_one(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
) -> None:
    provider.rotate_refresh_tokens = True
    account, connector = connected_once(tmp_path, provider, oauth2_dovecot, memory_keyring)
    stored = memory_keyring.passwords[("triage", "test/oauth2")]
    assert stored == provider.issued[-1] and provider.issued[-1].startswith("rt-")
    provider.expire_access_tokens()
    connector(account).close()  # with the new refresh token: the old one is void now
    assert provider.grants == ["refresh_token", "refresh_token"]


def test_revoked_sign_in_is_one_line_naming_triage_login(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
) -> None:
    account, connector = connected_once(tmp_path, provider, oauth2_dovecot, memory_keyring)
    provider.revoke()
    with pytest.raises(CredentialError) as info:
        connector(account)
    message = str(info.value)
    assert "expired or was revoked" in message and "`triage login test`" in message
    assert "\n" not in message
    assert provider.grants == ["refresh_token", "refresh_token"]


def test_not_signed_in_yet(
    tmp_path: Path, provider: AuthServer, oauth2_dovecot: OAuth2Dovecot
) -> None:
    account = account_for(tmp_path, oauth2_dovecot, provider)
    with pytest.raises(CredentialError, match="not signed in yet: run `triage login test`"):
        Connector(timeout=10)(account)
    assert provider.grants == []


def test_wrong_client_id_says_which(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
) -> None:
    account = account_for(tmp_path, oauth2_dovecot, provider)
    signed_in(memory_keyring, provider)
    provider.client_id = "the-registered-one"
    with pytest.raises(CredentialError) as info:
        Connector(timeout=10)(account)
    assert "does not accept the client ID 'test-client'" in str(info.value)
    assert "invalid_client" in str(info.value)


def test_token_command(tmp_path: Path, provider: AuthServer, oauth2_dovecot: OAuth2Dovecot) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(provider.add_access_token() + "\nexpires: later\n")
    runs = tmp_path / "runs"
    account = account_for(
        tmp_path, oauth2_dovecot, provider, f"echo run >> {runs}; cat {token_file}"
    )
    with Connector(timeout=10)(account):
        pass
    assert runs.read_text() == "run\n"

    provider.expire_access_tokens()  # the helper's token goes stale: asked once more, then no
    with pytest.raises(AuthenticationError) as info:
        Connector(timeout=10)(account)
    assert runs.read_text() == "run\n" * 3
    assert "check what oauth2_command for account 'test' prints" in str(info.value)
    assert token_file.read_text().split()[0] not in str(info.value)


def test_token_command_failing_shows_nothing_it_printed(
    tmp_path: Path, provider: AuthServer, oauth2_dovecot: OAuth2Dovecot
) -> None:
    account = account_for(tmp_path, oauth2_dovecot, provider, "echo at-secret-token; exit 3")
    with pytest.raises(CredentialError) as info:
        Connector(timeout=10)(account)
    assert "oauth2_command of account 'test' failed with exit status 3" in str(info.value)
    assert "at-secret-token" not in str(info.value)


def test_the_daemon_stays_connected_across_expiry_and_stops_once_on_revocation(
    tmp_path: Path,
    provider: AuthServer,
    oauth2_dovecot: OAuth2Dovecot,
    memory_keyring: MemoryKeyring,
    daemon_classifier: Classifier,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 14's "done when": an access-token expiry needs no user action; a revoked refresh
    token stops the account with one line, and is not tried again and again."""
    caplog.set_level(logging.DEBUG)
    provider.access_lifetime = 2
    account = account_for(tmp_path, oauth2_dovecot, provider)
    config = parse_config((tmp_path / "config.toml").read_text(), tmp_path / "config.toml")
    signed_in(memory_keyring, provider)
    mailbox = oauth2_mailbox(oauth2_dovecot, provider)
    outcomes: list[Outcome] = []
    daemon = build_daemon(config, daemon_classifier, Connector(timeout=10), outcomes)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(daemon.reports) >= 1, timeout=30)
        threading.Event().wait(2.2)  # the access token has expired
        oauth2_dovecot.stop()  # the connection drops; mail arrives; the daemon connects again
        deliver_while_down(
            oauth2_dovecot, mailbox, mail(1, OFFENDER_TEXTS[0], message_id="<after@x.example>")
        )
        oauth2_dovecot.start()
        wait_for(lambda: any(o.message_id == "<after@x.example>" for o in outcomes), timeout=30)
        assert provider.rejected == 0
        assert provider.grants.count("refresh_token") >= 2

        provider.revoke()
        oauth2_dovecot.restart()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        daemon.stop()
        thread.join(timeout=15)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "`triage login test`" in errors[0] and "stops here" in errors[0]
    assert daemon.results["test"].error is not None
    refreshes = provider.grants.count("refresh_token")
    threading.Event().wait(0.5)
    assert provider.grants.count("refresh_token") == refreshes  # no retry loop
    assert account.name == "test"

    state = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    for token in provider.issued:
        assert token not in caplog.text
        assert token.encode() not in state
