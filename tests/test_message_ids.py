"""triage.mail.message_ids: one reader of Message-IDs, which the ledger, corrections, the mailboxes
and the parser all use, so they agree on every header shape (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.mail.maildir import MaildirMailbox
from triage.mail.message_ids import first_id, ids_in, message_id_in
from triage.message.parse import parse_message

CASES = [
    ("plain", b"Message-ID: <a1@x.example>\r\n", "<a1@x.example>"),
    ("folded", b"Message-ID:\r\n <a2@x.example>\r\n", "<a2@x.example>"),
    ("folded twice", b"Message-Id:\r\n\t\r\n <a3@x.example>\r\n", "<a3@x.example>"),
    (
        "comment first",
        b"Message-ID: (sent by <fake@x.example>) <real@x.example>\r\n",
        "<real@x.example>",
    ),
    ("comment after", b"Message-ID: <a4@x.example> (our server)\r\n", "<a4@x.example>"),
    ("nested comment", b"Message-ID: (a (b <no@x>) c) <a5@x.example>\r\n", "<a5@x.example>"),
    ("lower-case name, no space", b"message-id:<a6@x.example>\r\n", "<a6@x.example>"),
    # not a field to the parser: the header block, and with it every reader, stops there
    ("space before colon", b"Message-ID : <a7@x.example>\r\n", ""),
    ("missing", b"", ""),
    ("empty", b"Message-ID:\r\n", ""),
    ("no brackets", b"Message-ID: a8@x.example\r\n", ""),
    ("UTF-8", "Message-ID: <réunion-9@x.example>\r\n".encode(), "<réunion-9@x.example>"),
    ("bad byte", b"Message-ID: <caf\xe9-10@x.example>\r\n", "<caf\ufffd-10@x.example>"),
    ("two fields: the first", b"Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n", "<first@x>"),
]


def raw(field: bytes) -> bytes:
    return (
        b"From: Ana <ana@x.example>\r\nTo: sam@example.org\r\nSubject: hi\r\n"
        + field
        + b"References: <r1@x> (old) <r2@x>\r\n\r\nHello.\r\n"
    )


@pytest.mark.parametrize(("name", "field", "expected"), CASES, ids=[c[0] for c in CASES])
def test_every_reader_finds_the_same_id(
    name: str, field: bytes, expected: str, tmp_path: Path
) -> None:
    message = raw(field)
    assert message_id_in(message) == expected, name
    assert parse_message(message).message_id == expected, name
    box = MaildirMailbox(tmp_path / "Maildir", create=True)
    box.append("INBOX", message, ())
    if expected:
        assert box.find_message_id("INBOX", expected) == box.search("INBOX")


def test_references_and_in_reply_to_leave_out_comments() -> None:
    message = parse_message(raw(b"In-Reply-To: (re <no@x>) <parent@x>\r\n"))
    assert message.in_reply_to == "<parent@x>"
    assert message.references == ("<r1@x>", "<r2@x>")
    assert ids_in("<a@b> (c <d@e>) <f@g>") == ["<a@b>", "<f@g>"]
    assert first_id(b"nothing here") == ""


def test_only_the_header_is_read() -> None:
    body_id = b"From: a@x\r\nSubject: s\r\n\r\nMessage-ID: <in-the-body@x>\r\n"
    assert message_id_in(body_id) == ""
