"""The Maildir backend against the Mailbox protocol: UIDs, search, fetch, flags, labels, drafts,
and the promise that no existing message file is ever changed, renamed or moved."""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from triage.errors import MailboxError
from triage.mail.maildir import MaildirMailbox
from triage.mail.maildir_files import UIDLIST, base_name, flags_of, info_of
from triage.mail.protocol import HeaderSearch, Mailbox


def mail(n: int, *, subject: str = "", body: str = "Hello.\n", message_id: str = "") -> bytes:
    message_id = message_id or f"<msg-{n}@example.org>"
    return (
        f"From: Sender {n} <sender{n}@example.net>\n"
        f"To: Alex Rivera <alex@example.org>\n"
        f"Subject: {subject or f'Message {n}'}\n"
        f"Date: Mon, 16 Nov 2026 10:00:{n % 60:02d} +0000\n"
        f"Message-ID: {message_id}\n"
        f"\n{body}"
    ).encode()


def put(root: Path, sub: str, name: str, data: bytes, mtime: float | None = None) -> Path:
    """Deliver a file the way another program (an MDA, mbsync, a mail client) would."""
    path = root / sub / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every message file under the Maildir: relative path -> (mtime_ns, size, content)."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and path.parent.name in ("cur", "new"):
            stat = path.stat()
            found[str(path.relative_to(root))] = (stat.st_mtime_ns, stat.st_size, path.read_bytes())
    return found


@pytest.fixture
def root(tmp_path: Path) -> Path:
    box = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    return box


@pytest.fixture
def box(root: Path) -> MaildirMailbox:
    return MaildirMailbox(root)


def test_is_a_mailbox(box: MaildirMailbox) -> None:
    mailbox: Mailbox = box  # checked by mypy: the class satisfies the protocol
    assert mailbox.label_style == "folders"


def test_not_a_maildir(tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match="not a Maildir"):
        MaildirMailbox(tmp_path / "nothing")
    created = MaildirMailbox(tmp_path / "fresh", create=True)
    assert all((tmp_path / "fresh" / sub).is_dir() for sub in ("cur", "new", "tmp"))
    assert created.open_folder("INBOX").uidnext == 1


def test_folder_names_map_to_maildir_plus_plus(box: MaildirMailbox, root: Path) -> None:
    assert box.folder_path("INBOX") == root
    assert box.folder_path("inbox") == root
    assert box.folder_path("Triage/Relationship") == root / ".Triage.Relationship"
    assert box.folder_path("Triage.Relationship") == root / ".Triage.Relationship"
    assert box.folder_path("INBOX/Drafts") == root / ".Drafts"
    for bad in ("", "../etc", "a//b", "/abs", ".hidden", "a/../b", "tab\there", "back\\slash"):
        with pytest.raises(MailboxError, match="invalid Maildir folder name"):
            box.folder_path(bad)
    with pytest.raises(MailboxError, match="no folder"):
        box.open_folder("Missing")
    box.create_folder("Triage/Relationship")
    assert (root / ".Triage.Relationship" / "maildirfolder").is_file()
    assert box.list_folders() == ["INBOX", "Triage/Relationship"]


def test_uids_are_stable_across_reopen_and_client_renames(root: Path) -> None:
    put(root, "new", "1000.A.host", mail(1), mtime=1000)
    put(root, "cur", "1001.B.host:2,S", mail(2), mtime=1001)
    first = MaildirMailbox(root)
    status = first.open_folder("INBOX")
    assert status.uidnext == 3 and status.uidvalidity > 0
    assert first.search("INBOX") == [1, 2]

    # A mail client reads message 1 (new/ -> cur/ with :2,S); mbsync renames message 2 (,U=).
    os.rename(root / "new" / "1000.A.host", root / "cur" / "1000.A.host:2,S")
    os.rename(root / "cur" / "1001.B.host:2,S", root / "cur" / "1001.B.host,U=17:2,RS")
    put(root, "new", "1002.C.host", mail(3), mtime=1002)

    again = MaildirMailbox(root)
    assert again.open_folder("INBOX") == status.__class__(status.uidvalidity, 4)
    fetched = {m.uid: m for m in again.fetch("INBOX", [1, 2, 3])}
    assert b"Message 1" in fetched[1].raw and fetched[1].flags == {"\\Seen"}
    assert b"Message 2" in fetched[2].raw and fetched[2].flags == {"\\Answered", "\\Seen"}
    assert b"Message 3" in fetched[3].raw and fetched[3].flags == frozenset()


def test_uids_follow_arrival_order_and_are_never_reused(root: Path, box: MaildirMailbox) -> None:
    put(root, "new", "b-later", mail(1), mtime=2000)
    put(root, "new", "a-earlier", mail(2), mtime=1000)
    assert box.search("INBOX") == [1, 2]
    assert b"Message 2" in box.fetch("INBOX", [1])[0].raw  # the older file got UID 1

    (root / "new" / "b-later").unlink()  # expunged by someone else
    assert box.search("INBOX") == [1]
    assert box.fetch("INBOX", [2]) == []  # vanished UIDs are simply absent
    put(root, "new", "c-new", mail(3), mtime=3000)
    assert box.search("INBOX") == [1, 3]


def test_damaged_uidlist_starts_over_with_new_uidvalidity(
    root: Path, box: MaildirMailbox, caplog: pytest.LogCaptureFixture
) -> None:
    put(root, "new", "one", mail(1))
    old = box.open_folder("INBOX").uidvalidity
    # Inconsistent (a UID at or above uidnext), and written in the same second as the original.
    (root / UIDLIST).write_text(f"triage-uidlist 1\nuidvalidity {old}\nuidnext 1\n1 one\n")
    with caplog.at_level(logging.WARNING):
        status = box.open_folder("INBOX")
    assert status.uidvalidity != old and status.uidnext == 2
    assert "numbering the folder anew" in caplog.text


def test_search_by_min_uid_and_since(root: Path, box: MaildirMailbox) -> None:
    now = datetime.now(UTC)
    for n, days_ago in ((1, 40), (2, 10), (3, 0)):
        put(root, "new", f"{n}.x", mail(n), mtime=(now - timedelta(days=days_ago)).timestamp())
    assert box.search("INBOX", min_uid=2) == [2, 3]
    assert box.search("INBOX", since=(now - timedelta(days=30)).date()) == [2, 3]
    assert box.search("INBOX", min_uid=3, since=date(2000, 1, 1)) == [3]
    assert box.search("INBOX", min_uid=4) == []
    internal = box.fetch("INBOX", [1])[0].internal_date
    assert internal is not None and internal.tzinfo is not None
    assert abs((now - timedelta(days=40) - internal).total_seconds()) < 2


def test_fetch_caps_the_body_like_body_peek(root: Path) -> None:
    big = mail(1, body="x" * 5000)
    put(root, "new", "big", big)
    box = MaildirMailbox(root, body_bytes=100)
    raw = box.fetch("INBOX", [1])[0].raw
    header_end = big.index(b"\n\n") + 2
    assert raw == big[: header_end + 100]


def test_flags_from_info() -> None:
    assert flags_of("123.x:2,DFRST") == {
        "\\Draft",
        "\\Flagged",
        "\\Answered",
        "\\Seen",
        "\\Deleted",
    }
    assert flags_of("123.x") == frozenset()
    assert flags_of("123.x:2,") == frozenset()
    assert info_of(["\\Seen", "\\Draft", "$Custom"]) == "DS"
    assert base_name("123.x,U=5:2,S") == "123.x"


def test_reading_never_marks_seen_or_moves(root: Path, box: MaildirMailbox) -> None:
    put(root, "new", "unread", mail(1))
    before = snapshot(root)
    box.open_folder("INBOX")
    box.fetch("INBOX", box.search("INBOX"))
    assert snapshot(root) == before
    assert (root / "new" / "unread").exists()


def test_labels_are_copies_made_once(root: Path, box: MaildirMailbox) -> None:
    put(root, "new", "1.unread", mail(1), mtime=1000)
    put(root, "cur", "2.read:2,FS", mail(2), mtime=2000)
    uids = box.search("INBOX")
    box.add_label("INBOX", uids, "Triage/Solicitation")
    box.add_label("INBOX", uids, "Triage/Solicitation")  # idempotent
    MaildirMailbox(root).add_label("INBOX", uids, "Triage/Solicitation")  # also across reopen

    label = root / ".Triage.Solicitation"
    assert sorted(os.listdir(label / "new")) == ["1.unread"]
    assert sorted(os.listdir(label / "cur")) == ["2.read:2,FS"]
    assert (label / "new" / "1.unread").read_bytes() == mail(1)
    assert (label / "new" / "1.unread").stat().st_mtime == 1000  # INTERNALDATE kept, like COPY
    copied = box.fetch("Triage/Solicitation", box.search("Triage/Solicitation"))
    assert [m.flags for m in copied] == [frozenset(), {"\\Flagged", "\\Seen"}]

    # The same message under another file name (say, re-synced) is recognised by Message-ID.
    put(root, "new", "3.same-message-again", mail(1))
    box.add_label("INBOX", box.search("INBOX", min_uid=3), "Triage/Solicitation")
    assert box.count("Triage/Solicitation") == 2

    # A client reads the copy; a new label run still finds it.
    os.rename(label / "new" / "1.unread", label / "cur" / "1.unread:2,S")
    MaildirMailbox(root).add_label("INBOX", uids, "Triage/Solicitation")
    assert box.count("Triage/Solicitation") == 2

    box.add_label("INBOX", uids, "INBOX")  # labelling a folder with itself does nothing
    box.add_label("INBOX", [99], "Triage/Other")  # unknown UIDs: nothing, not even a folder
    assert box.count("INBOX") == 3 and not box.folder_exists("Triage/Other")


def test_append_draft_with_draft_flag(root: Path, box: MaildirMailbox) -> None:
    assert box.special_folders().drafts == "Drafts"
    assert box.special_folders().sent == ""
    draft = mail(7, subject="Re: hello").replace(b"\n", b"\r\n")
    box.append("Drafts", draft, ["\\Draft", "\\Seen"])
    path = box.message_path("Drafts", 1)
    assert path is not None and path.parent == root / ".Drafts" / "cur"
    assert path.name.endswith(":2,DS")
    assert path.read_bytes() == draft.replace(b"\r\n", b"\n")  # local line endings
    assert not list((root / ".Drafts" / "tmp").iterdir())
    fetched = box.fetch("Drafts", [1])[0]
    assert fetched.flags == {"\\Draft", "\\Seen"}

    box.append("Drafts", mail(8), [])
    assert len(os.listdir(root / ".Drafts" / "new")) == 1  # no flags: delivered to new/
    assert box.search("Drafts") == [1, 2]

    box.create_folder("Sent")
    assert box.special_folders().sent == "Sent"


def test_deliver_is_once_per_name(root: Path, box: MaildirMailbox) -> None:
    when = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
    assert box.deliver("INBOX", mail(1), name="1.sample", received=when)
    assert not box.deliver("INBOX", mail(1), name="1.sample", received=when)
    assert (root / "new" / "1.sample").stat().st_mtime == when.timestamp()
    with pytest.raises(MailboxError):
        box.deliver("INBOX", mail(2), name="bad:2,S")


def test_existing_files_are_never_changed(root: Path, box: MaildirMailbox) -> None:
    put(root, "new", "1.unread", mail(1), mtime=1000)
    put(root, "cur", "2.read:2,S", mail(2), mtime=2000)
    put(root, "cur", "3.flagged:2,F", mail(3), mtime=3000)
    box.create_folder("Triage/Relationship")
    put(root / ".Triage.Relationship", "cur", "9.old:2,S", mail(9), mtime=500)
    before = snapshot(root)

    box.open_folder("INBOX")
    uids = box.search("INBOX")
    box.fetch("INBOX", uids)
    box.add_label("INBOX", uids, "Triage/Relationship")
    box.add_label("INBOX", uids[:1], "Triage/Drafted")
    box.append("Drafts", mail(10), ["\\Draft", "\\Seen"])
    box.close()

    after = snapshot(root)
    for name, state in before.items():
        assert after.get(name) == state, f"{name} was changed, renamed or moved"
    added = set(after) - set(before)
    assert len(added) == 3 + 1 + 1


def test_header_search(root: Path, box: MaildirMailbox) -> None:
    assert isinstance(box, HeaderSearch)
    original = mail(1, message_id="<orig@example.net>")
    reply = (
        b"From: Alex Rivera <alex@example.org>\nTo: Sender <sender1@example.net>,\n"
        b" Other <other@example.com>\nSubject: Re: Message 1\n"
        b"Message-ID: <reply@example.org>\nIn-Reply-To: <orig@example.net>\n"
        b"References: <start@example.net>\n <orig@example.net>\n\nThanks.\n"
    )
    put(root, "new", "1.orig", original, mtime=1000)
    put(root, "cur", "2.reply:2,S", reply, mtime=2000)
    before = snapshot(root)

    assert box.find_message_id("INBOX", "<orig@example.net>") == [1]
    assert box.find_message_id("INBOX", "<reply@example.org>") == [2]
    assert box.find_message_id("INBOX", "<missing@example.org>") == []
    assert box.find_message_id("Drafts", "<orig@example.net>") == []  # no such folder yet
    assert box.find_replies("INBOX", "<orig@example.net>") == [2]
    assert box.find_replies("INBOX", "<start@example.net>") == [2]
    assert box.find_replies("INBOX", "<reply@example.org>") == []

    headers = box.fetch_headers("INBOX", [2, 99], ["To", "cc"])
    assert headers == {2: b"To: Sender <sender1@example.net>,\n Other <other@example.com>\n\n"}
    assert snapshot(root) == before
