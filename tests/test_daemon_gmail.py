"""The Gmail label path, against a wire-level double of the X-GM-EXT-1 extension."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_support import (
    OFFENDER_TEXTS,
    build_daemon,
    mail,
    mixed_mail,
)
from gmail_double import GmailDouble

from triage.config import load_config
from triage.daemon.outcomes import Outcome
from triage.mail.credentials import Secret
from triage.mail.imap import connect
from triage.message.parse import parse_message
from triage.model.classifier import Classifier

LABELS = {"relationship": "Triage/Relationship", "solicitation": "Triage/Solicitation"}
USER = "sam.reader@gmail.example"


def config_file(
    tmp_path: Path, port: int, password: str, labels: str = "auto", daemon: str = ""
) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n\n'
        "[[account]]\n"
        'name = "gmail"\n'
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        f'username = "{USER}"\n'
        'tls = "none"\n'
        "allow_insecure = true\n"
        f'labels = "{labels}"\n'
        f'password_command = "echo {password}"\n\n'
        "[drafts]\ndaily_cap = 100\n"
        f"[daemon]\n{daemon}\n"
    )
    return path


def run_once(path: Path, classifier: Classifier, password: str) -> tuple[int, list[Outcome]]:
    outcomes: list[Outcome] = []
    daemon = build_daemon(
        load_config(path),
        classifier,
        lambda a: connect(a, Secret(password), timeout=10),
        outcomes,
        once=True,
    )
    return daemon.run(), outcomes


@pytest.fixture
def gmail() -> GmailDouble:
    with GmailDouble() as double:
        yield double  # type: ignore[misc]


def test_gmail_labels_and_drafts_through_x_gm_labels(
    tmp_path: Path, gmail: GmailDouble, daemon_classifier: Classifier
) -> None:
    raws = mixed_mail(10, prefix="g")
    for raw in raws:
        gmail.folders["INBOX"].add(raw, labels={"\\Inbox"})
    gmail.folders["[Gmail]/Sent Mail"].add(
        f"From: {USER}\r\nTo: Old Friend <friend@x.example>\r\nSubject: hi\r\n"
        "Message-ID: <sent-1@gmail.example>\r\n\r\nHello\r\n".encode()
    )
    messages = [parse_message(r) for r in raws]
    decisions = {
        m.message_id: d for m, d in zip(messages, daemon_classifier.classify(messages), strict=True)
    }
    assert any(d.draft for d in decisions.values())
    path = config_file(tmp_path, gmail.port, gmail.password)

    code, outcomes = run_once(path, daemon_classifier, gmail.password)
    assert code == 0
    assert len(outcomes) == len(raws)
    for message in gmail.folders["INBOX"].messages:
        decision = decisions[parse_message(message.raw).message_id]
        expected = {"\\Inbox"}
        if decision.label in LABELS:
            expected.add(LABELS[decision.label])
        if decision.draft:
            expected.add("Triage/Drafted")
        assert message.labels == expected
        assert message.flags == set()  # never \Seen, never a keyword
    drafts = gmail.folders["[Gmail]/Drafts"].messages
    assert len(drafts) == sum(d.draft for d in decisions.values())
    for draft in drafts:
        assert draft.flags == {"\\Draft", "\\Seen"}
        parsed = parse_message(draft.raw)
        assert parsed.in_reply_to in decisions and decisions[parsed.in_reply_to].draft

    # On the wire: labels via X-GM-LABELS, read-write SELECT, only BODY.PEEK, no flag STOREs.
    stores = [c for c in gmail.commands if c.upper().startswith("UID STORE")]
    assert stores and all("+X-GM-LABELS.SILENT" in c.upper() for c in stores)
    fetches = [c for c in gmail.commands if c.upper().startswith("UID FETCH")]
    assert all("BODY[" not in c.upper().replace("BODY.PEEK[", "") for c in fetches)
    assert any(
        c.upper().startswith('SELECT "INBOX"') or c.upper().startswith("SELECT INBOX")
        for c in gmail.commands
    )
    assert any(c.upper().startswith("APPEND") and "[Gmail]/Drafts" in c for c in gmail.commands)

    # A second run changes nothing.
    before = len(gmail.commands)
    code, outcomes = run_once(path, daemon_classifier, gmail.password)
    assert code == 0 and outcomes == []
    assert not [c for c in gmail.commands[before:] if c.upper().startswith(("UID STORE", "APPEND"))]


def test_gmail_new_mail_after_the_first_run(
    tmp_path: Path, gmail: GmailDouble, daemon_classifier: Classifier
) -> None:
    path = config_file(tmp_path, gmail.port, gmail.password)
    run_once(path, daemon_classifier, gmail.password)
    raw = mail(
        1, OFFENDER_TEXTS[1], sender="Mo Level <mo@mlm.example>", message_id="<mlm-1@mlm.example>"
    )
    message = gmail.folders["INBOX"].add(raw, labels={"\\Inbox", "\\Important"})
    code, outcomes = run_once(path, daemon_classifier, gmail.password)
    assert code == 0 and [o.uid for o in outcomes] == [message.uid]
    decision = daemon_classifier.classify([parse_message(raw)])[0]
    assert decision.label == "solicitation", "an MLM offender: the test needs a labelled class"
    assert LABELS["solicitation"] in message.labels
    assert LABELS["relationship"] not in message.labels
    assert {"\\Inbox", "\\Important"} <= message.labels


def test_gmail_wrong_app_password_is_an_authentication_error(
    tmp_path: Path, gmail: GmailDouble, daemon_classifier: Classifier
) -> None:
    path = config_file(tmp_path, gmail.port, "not-the-app-password")
    code, _ = run_once(path, daemon_classifier, "not-the-app-password")
    assert code == 4
    assert sum(c == "LOGIN ..." for c in gmail.commands) == 1  # no retry


def test_polling_where_the_server_has_no_idle(
    tmp_path: Path, daemon_classifier: Classifier
) -> None:
    import threading
    import time

    with GmailDouble(capabilities="IMAP4rev1 UIDPLUS X-GM-EXT-1") as double:
        path = config_file(tmp_path, double.port, double.password, daemon="poll_seconds = 0.3")
        daemon = build_daemon(
            load_config(path),
            daemon_classifier,
            lambda a: connect(a, Secret(double.password), timeout=10),
            [],
        )
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not daemon.reports and time.monotonic() < deadline:
                time.sleep(0.05)
            raw = mail(
                3,
                OFFENDER_TEXTS[2],
                sender="Bo Nus <bo@bounty.example>",
                message_id="<poll-3@bounty.example>",
            )
            message = double.folders["INBOX"].add(raw, labels={"\\Inbox"})
            added = time.monotonic()
            while message.labels == {"\\Inbox"} and time.monotonic() - added < 5:
                time.sleep(0.02)
            assert message.labels != {"\\Inbox"}, "not labelled by polling"
            assert time.monotonic() - added < 2
            assert not any(c.upper().startswith("IDLE") for c in double.commands)
        finally:
            daemon.stop()
            thread.join(timeout=10)
        assert not thread.is_alive()


def test_mail_announced_together_with_the_idle_continuation_is_not_missed(
    tmp_path: Path, daemon_classifier: Classifier
) -> None:
    """Mail that arrives just as IDLE starts is announced in the same packet as "+ idling";
    it then waits in the client's read buffer, where poll() does not see it."""
    import threading
    import time

    from gmail_double import Folder

    with GmailDouble() as double:
        path = config_file(
            tmp_path, double.port, double.password, daemon="idle_refresh_minutes = 5"
        )
        arrived: list[float] = []
        raw = mail(
            4,
            OFFENDER_TEXTS[1],
            sender="Mo Level <mo@mlm.example>",
            message_id="<race-4@mlm.example>",
        )

        def on_idle(folder: Folder | None) -> str:
            if arrived or folder is not double.folders["INBOX"]:
                return ""
            folder.add(raw, labels={"\\Inbox"})
            arrived.append(time.monotonic())
            return f"* {len(folder.messages)} EXISTS"

        double.on_idle = on_idle
        daemon = build_daemon(
            load_config(path),
            daemon_classifier,
            lambda a: connect(a, Secret(double.password), timeout=10),
            [],
        )
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (
                arrived and any(o.processed for o in daemon.reports[1:])
            ):
                time.sleep(0.02)
            assert arrived, "the daemon never started IDLE"
            message = double.folders["INBOX"].messages[-1]
            assert message.labels != {"\\Inbox"}, "missed until the next IDLE refresh"
            assert time.monotonic() - arrived[0] < 5
        finally:
            daemon.stop()
            thread.join(timeout=10)
