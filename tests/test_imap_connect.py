"""Connecting to a real Dovecot: TLS modes, certificate checks and errors at the boundary."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from dovecot import DovecotServer, TestAccount

from triage.errors import (
    AuthenticationError,
    ConnectionLostError,
    MailboxError,
    TLSError,
)
from triage.mail.credentials import Secret
from triage.mail.imap import connect, ssl_context


def test_login_over_implicit_tls_with_the_test_ca(imap_account: TestAccount) -> None:
    with connect(imap_account.account("implicit"), Secret(imap_account.password)) as session:
        assert session.tls_version in {"TLSv1.2", "TLSv1.3"}
        assert session.has_capability("IMAP4rev1")
        assert session.has_capability("IDLE")
        session.noop()
    assert session.closed


def test_login_over_starttls_with_the_test_ca(imap_account: TestAccount) -> None:
    session = connect(imap_account.account("starttls"), Secret(imap_account.password))
    try:
        assert session.account.port == imap_account.imap_port
        assert session.tls_version in {"TLSv1.2", "TLSv1.3"}
        assert session.has_capability("UIDPLUS")
    finally:
        session.logout()
    session.logout()  # a second logout is harmless


def test_login_without_tls_when_allowed(imap_account: TestAccount) -> None:
    with connect(imap_account.account("none"), Secret(imap_account.password)) as session:
        assert session.tls_version is None


def _auth_failures(server: DovecotServer, username: str) -> int:
    log = (server.root / "dovecot.log").read_text(errors="replace")
    return sum(
        1 for line in log.splitlines() if f"({username}," in line and "Password mismatch" in line
    )


def test_wrong_password_fails_fast_without_retry(
    dovecot: DovecotServer, imap_account: TestAccount
) -> None:
    wrong = "wrong-" + imap_account.password
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as info:
        connect(imap_account.account("implicit"), Secret(wrong))
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert imap_account.username in message
    assert "triage login test" in message
    assert wrong not in message and imap_account.password not in message
    assert info.value.exit_code == 4
    # library frames (which hold the password) are not chained into the traceback
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # exactly one attempt reached the server: no retry loop
    deadline = time.monotonic() + 3
    while _auth_failures(dovecot, imap_account.username) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert _auth_failures(dovecot, imap_account.username) == 1


def test_non_ascii_password_goes_through_sasl_plain(imap_account: TestAccount) -> None:
    with pytest.raises(AuthenticationError):
        connect(imap_account.account("starttls"), Secret("pässwörd-ünicode"))


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_untrusted_certificate_with_system_trust(imap_account: TestAccount, tls: str) -> None:
    account = imap_account.account(tls, trust_test_ca=False)  # type: ignore[arg-type]
    with pytest.raises(TLSError) as info:
        connect(account, Secret(imap_account.password))
    message = str(info.value)
    assert f"{imap_account.host}:{account.port}" in message
    assert "not trusted" in message
    assert "ca_file" in message
    assert imap_account.password not in message


def test_certificate_from_another_ca_is_rejected(
    imap_account: TestAccount, untrusted_ca_file: Path
) -> None:
    account = imap_account.account("implicit", ca_file=untrusted_ca_file)
    with pytest.raises(TLSError, match="not trusted"):
        connect(account, Secret(imap_account.password))


def test_certificate_for_another_host_name_is_rejected(imap_account: TestAccount) -> None:
    # "127.1" reaches 127.0.0.1, but the certificate only names localhost and 127.0.0.1
    account = imap_account.account("implicit", host="127.1")
    with pytest.raises(TLSError) as info:
        connect(account, Secret(imap_account.password))
    assert "Hostname mismatch" in str(info.value)
    assert "set host" in str(info.value)


def test_implicit_tls_on_the_plain_port_explains_the_mismatch(imap_account: TestAccount) -> None:
    account = imap_account.account("implicit", port=imap_account.imap_port)
    with pytest.raises(TLSError, match='tls = "starttls"'):
        connect(account, Secret(imap_account.password))


def test_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        from triage.config import Account

        account = Account(name="x", host="127.0.0.1", username="u", port=port)
        with pytest.raises(ConnectionLostError, match="refused"):
            connect(account, Secret("pw"), timeout=2)


def test_unreadable_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    from triage.config import Account

    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    account = Account(name="x", host="127.0.0.1", username="u", ca_file=bogus)
    with pytest.raises(TLSError, match="ca_file"):
        ssl_context(account)


def test_server_going_away_is_a_connection_lost_error(
    dovecot: DovecotServer, imap_account: TestAccount
) -> None:
    session = connect(imap_account.account("implicit"), Secret(imap_account.password))
    try:
        dovecot.stop()
        with pytest.raises(ConnectionLostError):
            session.noop()
        assert session.closed
    finally:
        session.logout()
        dovecot.start()
    # the restarted server answers on the same port with the same mailboxes
    with connect(imap_account.account("implicit"), Secret(imap_account.password)) as again:
        again.noop()


def test_errors_are_mailbox_errors() -> None:
    assert issubclass(AuthenticationError, MailboxError)
    assert issubclass(TLSError, MailboxError)
    assert issubclass(ConnectionLostError, MailboxError)


def test_flags_changed_before_idle_end_the_wait_at_once(imap_account: TestAccount) -> None:
    """The user relabels mail while triage catches up: IDLE would announce only later changes,
    so `wait` must return before idling, not at the next refresh (issue 10, item 10)."""
    from daemon_support import Box, mail

    box = Box(imap_account)
    box.append("INBOX", mail(1, "Hello there", message_id="<flags@x.example>"))
    session = connect(imap_account.account(), Secret(imap_account.password), timeout=10)
    try:
        session.open_folder("INBOX")
        session.search("INBOX")
        uids = box.uids("INBOX")
        box.client.select_folder("INBOX")  # read-write, as a mail client relabelling does
        box.client.add_flags(uids, ["triage-relationship"])
        started = time.monotonic()
        changed = session.wait("INBOX", timeout=5, poll_interval=5, interrupted=lambda: False)
        assert changed and time.monotonic() - started < 2
        session.open_folder("INBOX")  # looked again: nothing new, so now it idles
        started = time.monotonic()
        assert not session.wait("INBOX", timeout=1.5, poll_interval=5, interrupted=lambda: False)
        assert time.monotonic() - started >= 1.4
    finally:
        session.logout()
        box.close()
