"""Feedback drafts on a real Dovecot: they append cleanly and thread with their originals.

The drafts are appended with imapclient directly (the daemon's own append path is tested with
the daemon); what is checked here is the message itself, as a real IMAP server reads it:
`UID THREAD REFERENCES` puts draft and original in one thread, the envelope carries the
threading headers, and no injected header survives the server's parser.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from dovecot import TestAccount
from imapclient import IMAPClient

from triage.config import DraftsConfig
from triage.decide.policy import Decision
from triage.letters.replies import build_draft
from triage.mail.imap import ssl_context
from triage.message.parse import parse_message

USER_NAME = "Sam Lee"
NOW = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def decision(*offenses: str) -> Decision:
    return Decision("solicitation", 0.95, {"solicitation": 0.95}, offenses, True, (), "test")


def original_bytes(user: str, *, subject: str, message_id: str, extra: str = "") -> bytes:
    lines = [
        'From: "Jane Doe" <jane.doe@startup.example>',
        f"To: {user}",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        "Date: Mon, 4 Mar 2024 10:00:00 +0000",
    ]
    if extra:
        lines.append(extra)
    body = (
        "We haven't met, but could you introduce me to your contact at Acme? Please forward "
        "this to your network: $100 per referral. Let me show you a demo of our platform."
    )
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.fixture
def client(imap_account: TestAccount) -> Iterator[IMAPClient]:
    account = imap_account.account("implicit")
    with IMAPClient(
        account.host, port=account.port, ssl=True, ssl_context=ssl_context(account), timeout=10
    ) as imap:
        imap.login(imap_account.username, imap_account.password)
        yield imap


def append(imap: IMAPClient, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int:
    response = imap.append(folder, raw, flags=flags, msg_time=NOW)
    # UIDPLUS: b"[APPENDUID <uidvalidity> <uid>] ..."
    text = response.decode() if isinstance(response, bytes) else str(response)
    return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))


def threads_of(imap: IMAPClient, algorithm: str) -> list[set[int]]:
    """Each thread as the set of UIDs in it (the server returns nested tuples)."""

    def flatten(node: Any) -> set[int]:
        if isinstance(node, int):
            return {node}
        members: set[int] = set()
        for child in node:
            members |= flatten(child)
        return members

    return [flatten(thread) for thread in imap.thread(algorithm, "ALL", "UTF-8")]


def thread_containing(threads: list[set[int]], uid: int) -> set[int]:
    return next(thread for thread in threads if uid in thread)


def draft_for(raw: bytes, user: str, *offenses: str) -> bytes:
    drafts = DraftsConfig(from_name=USER_NAME, signature="Sam Lee\nExample Ventures")
    return build_draft(parse_message(raw), decision(*offenses), drafts, user, now=NOW).raw


def test_draft_threads_with_its_original(client: IMAPClient, imap_account: TestAccount) -> None:
    user = imap_account.username
    assert client.has_capability("THREAD=REFERENCES")
    original = original_bytes(user, subject="Quick question", message_id="<orig-1@startup.example>")
    unrelated = original_bytes(
        user, subject="Lunch on Friday?", message_id="<other-1@friend.example>"
    )
    draft = draft_for(original, user, "introduction-ask", "referral-bounty")

    client.select_folder("INBOX")
    original_uid = append(client, "INBOX", original)
    unrelated_uid = append(client, "INBOX", unrelated)
    draft_uid = append(client, "INBOX", draft, flags=["\\Draft", "\\Seen"])

    threads = threads_of(client, "REFERENCES")
    assert thread_containing(threads, draft_uid) == {original_uid, draft_uid}
    assert unrelated_uid not in thread_containing(threads, draft_uid)

    fetched = client.fetch([draft_uid], ["FLAGS", "ENVELOPE", "BODY.PEEK[HEADER.FIELDS (BCC)]"])
    data = fetched[draft_uid]
    assert {b"\\Draft", b"\\Seen"} <= set(data[b"FLAGS"])
    envelope = data[b"ENVELOPE"]
    assert envelope.in_reply_to == b"<orig-1@startup.example>"
    assert envelope.subject == b"Re: Quick question"
    assert [(a.mailbox, a.host) for a in envelope.to] == [(b"jane.doe", b"startup.example")]
    assert envelope.bcc is None and envelope.cc is None
    assert data[b"BODY[HEADER.FIELDS (BCC)]"].strip() == b""


def test_threading_works_through_references_alone(
    client: IMAPClient, imap_account: TestAccount
) -> None:
    """An original without a subject: the server cannot group by subject, only by headers."""
    user = imap_account.username
    outlook_id = (
        "<BN8PR12MB3362C7A8A6F1B6F3E1D2A9B7D4B09C1E5F@BN8PR12MB3362.namprd12.prod.outlook.com>"
    )
    original = original_bytes(
        user, subject="", message_id=outlook_id, extra="References: <root@startup.example>"
    )
    decoy = original_bytes(user, subject="", message_id="<decoy@startup.example>")
    draft = draft_for(original, user, "pitch-on-introduction")

    client.select_folder("INBOX")
    original_uid = append(client, "INBOX", original)
    decoy_uid = append(client, "INBOX", decoy)
    draft_uid = append(client, "INBOX", draft, flags=["\\Draft", "\\Seen"])

    algorithms = ["REFERENCES"] + (["REFS"] if client.has_capability("THREAD=REFS") else [])
    for algorithm in algorithms:
        thread = thread_containing(threads_of(client, algorithm), draft_uid)
        assert original_uid in thread, algorithm
        assert decoy_uid not in thread, algorithm


def test_hostile_original_gives_a_clean_draft_in_drafts(
    client: IMAPClient, imap_account: TestAccount
) -> None:
    user = imap_account.username
    evil_name = "=?utf-8?b?" + base64.b64encode(b"Jane\r\nBcc: victim@evil.example").decode() + "?="
    evil_subject = "=?utf-8?q?hi=0D=0ABcc:_victim@evil.example?="
    raw = original_bytes(user, subject=evil_subject, message_id="<evil-1@startup.example>")
    raw = raw.replace(b'"Jane Doe"', evil_name.encode())
    draft = draft_for(raw, user, "network-harvesting")

    drafts_folder = next(name for flags, _, name in client.list_folders() if b"\\Drafts" in flags)
    draft_uid = append(client, drafts_folder, draft, flags=["\\Draft", "\\Seen"])
    client.select_folder(drafts_folder, readonly=True)
    data = client.fetch([draft_uid], ["ENVELOPE", "BODY.PEEK[HEADER]"])[draft_uid]
    header = data[b"BODY[HEADER]"].decode("ascii")
    names = [
        line.split(":", 1)[0].lower()
        for line in header.split("\r\n")
        if line and not line[0].isspace()
    ]
    assert names == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
    ]
    envelope = data[b"ENVELOPE"]
    assert envelope.bcc is None
    assert len(envelope.to) == 1 and envelope.to[0].host == b"startup.example"
