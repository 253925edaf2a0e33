"""Fixtures for the OAuth2 tests: a Dovecot that accepts only OAuth2, and the provider stand-in.

The session's ordinary Dovecot keeps its password databases; this second one has a single
`oauth2` passdb that asks the `AuthServer` (see `oauth2_server.py`) about each access token by
token introspection, so an access token is accepted exactly while the stand-in provider says
it is active. Each test gets a fresh user (so a fresh mailbox) and a reset provider.

Import the fixtures into a test module to use them (`from oauth2_support import provider`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from certs import TestCA
from dovecot import DovecotServer, TestAccount
from oauth2_server import AuthServer


class OAuth2Dovecot(DovecotServer):
    """Dovecot whose only passdb checks OAuth2 access tokens with an introspection URL."""

    def __init__(
        self, binary: str, root: Path, ca: TestCA, introspection_url: str, mechanisms: str
    ) -> None:
        self.introspection_url = introspection_url
        self.auth_mechanisms = mechanisms
        super().__init__(binary, root, ca)

    def _passdbs(self) -> str:
        conf = self.root / "dovecot-oauth2.conf.ext"
        conf.write_text(
            "introspection_mode = post\n"
            f"introspection_url = {self.introspection_url}\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        conf.chmod(0o644)
        return f"""\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {conf}
}}
"""


@pytest.fixture(scope="session")
def auth_server() -> Iterator[AuthServer]:
    server = AuthServer()
    yield server
    server.close()


def _start(
    dovecot: DovecotServer, test_ca: TestCA, auth: AuthServer, mechanisms: str
) -> Iterator[OAuth2Dovecot]:
    root = Path(dovecot.root.parent, dovecot.root.name + "-oauth2-" + mechanisms.split()[-1])
    root.mkdir()
    server = OAuth2Dovecot(dovecot.binary, root, test_ca, auth.url + "/introspect", mechanisms)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def oauth2_dovecot(
    dovecot: DovecotServer, test_ca: TestCA, auth_server: AuthServer
) -> Iterator[OAuth2Dovecot]:
    """Offers both AUTHENTICATE OAUTHBEARER and XOAUTH2, as Gmail does."""
    yield from _start(dovecot, test_ca, auth_server, "xoauth2 oauthbearer")


@pytest.fixture(scope="session")
def xoauth2_dovecot(
    dovecot: DovecotServer, test_ca: TestCA, auth_server: AuthServer
) -> Iterator[OAuth2Dovecot]:
    """Offers only XOAUTH2, as Microsoft 365 does."""
    yield from _start(dovecot, test_ca, auth_server, "xoauth2")


@pytest.fixture
def provider(auth_server: AuthServer, oauth2_dovecot: OAuth2Dovecot) -> AuthServer:
    """The stand-in provider, reset, with a fresh user whose mailbox is on `oauth2_dovecot`."""
    if not oauth2_dovecot.running:  # a test restarted it
        oauth2_dovecot.start()
    auth_server.reset(oauth2_dovecot.new_account().username)
    return auth_server


def oauth2_mailbox(server: OAuth2Dovecot, provider: AuthServer) -> TestAccount:
    """The provider's user's mailbox on `server`."""
    fresh = server.new_account()
    return TestAccount(
        fresh.host,
        fresh.imap_port,
        fresh.imaps_port,
        provider.username,
        "",
        fresh.ca_file,
        fresh.maildir.parent.parent / provider.username / "Maildir",
    )


def oauth2_toml(
    mailbox: TestAccount, provider: AuthServer, *, device: bool = True, command: str = ""
) -> str:
    """An [[account]] "test" signing in with OAuth2 at the stand-in provider ("custom"
    endpoints, the device flow or the browser's), or with a token `command`."""
    if command:
        return mailbox.config_toml() + f'auth = "oauth2"\noauth2_command = "{command}"\n'
    flow = (
        f'oauth2_device_url = "{provider.url}/device"\n'
        if device
        else f'oauth2_authorize_url = "{provider.url}/authorize"\n'
    )
    return (
        mailbox.config_toml() + 'auth = "oauth2"\noauth2_provider = "custom"\n'
        f'oauth2_client_id = "{provider.client_id}"\n'
        f'oauth2_token_url = "{provider.url}/token"\n{flow}'
        'oauth2_scopes = ["imap", "offline_access"]\n'
    )
