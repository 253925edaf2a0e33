"""Shared fixtures: an in-memory keyring, an isolated home, and a real Dovecot on loopback.

Tests that need an IMAP server ask for `imap_account` (a fresh, empty mailbox on a Dovecot
started once per session, see `dovecot.py`). Without Dovecot installed those tests skip with a
reason locally and fail when the environment says CI (CI=true), so CI can never pass without
having talked to a real server. They carry the `dovecot` marker: `pytest -m "not dovecot"`
runs the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from certs import TestCA
from daemon_support import box, daemon_classifier, daemon_model  # noqa: F401 - fixtures
from dovecot import DovecotServer, TestAccount, find_binary
from keyring.backend import KeyringBackend
from oauth2_support import (  # noqa: F401 - fixtures
    auth_server,
    oauth2_dovecot,
    provider,
    xoauth2_dovecot,
)
from tiny_model import train_tiny_model


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in a dict, so tests never touch the real OS keyring."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Every test starts with an empty in-memory keyring."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG config and state under the test's temp dir: no test reads or writes the real home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    return home


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "dovecot" in getattr(item, "fixturenames", ()) or "imap_account" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.dovecot)


@pytest.fixture(scope="session")
def test_ca() -> TestCA:
    return TestCA.create("triage test CA")


@pytest.fixture(scope="session")
def dovecot(test_ca: TestCA) -> Iterator[DovecotServer]:
    """One real Dovecot for the whole session, listening on loopback."""
    binary = find_binary()
    if binary is None:
        reason = (
            "dovecot is not installed: `apt-get install dovecot-imapd` "
            "(or `bash .ci/run`, which installs it)"
        )
        if in_ci():
            pytest.fail(f"{reason}; CI=true requires the tests against a real IMAP server")
        pytest.skip(reason)
    server = DovecotServer.create(binary, test_ca)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def imap_account(dovecot: DovecotServer) -> TestAccount:
    """A fresh, empty mailbox on the session's Dovecot; its CA is the session's test CA."""
    if not dovecot.running:  # a previous test stopped it (daemon reconnect tests)
        dovecot.start()
    return dovecot.new_account()


@pytest.fixture
def untrusted_ca_file(tmp_path: Path) -> Path:
    """The certificate of a CA that did not sign the test server's certificate."""
    return TestCA.create("some other CA").write_cert(tmp_path / "other-ca.pem")


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained in seconds, for tests that must not depend on the shipped one."""
    return train_tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny.model")
