"""The daemon against a real Dovecot: labels, drafts, backfill, re-runs, UIDVALIDITY, bad mail.

`triage run --once` is run in process here (the same `Daemon` the command builds), with the
test model; the subprocess runs, `kill -9` and server restarts are in test_daemon_faults.py.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from daemon_support import (
    OFFENDER_TEXTS,
    OTHER_TEXT,
    RELATIONSHIP_TEXT,
    Box,
    cli,
    mail,
    mixed_mail,
    run_once,
    write_config,
)
from dovecot import TestAccount

from triage.config import load_config
from triage.message.parse import parse_message
from triage.model.classifier import Classifier
from triage.store.state import State

KEYWORDS = {"relationship": "triage-relationship", "solicitation": "triage-solicitation"}
DRAFTED = "triage-drafted"


def expected(classifier: Classifier, raws: list[bytes]) -> dict[str, tuple[str, bool]]:
    """Message-ID -> (label, draft?) as the classifier decides for each message on its own."""
    messages = [parse_message(r) for r in raws]
    return {
        m.message_id: (d.label, d.draft)
        for m, d in zip(messages, classifier.classify(messages), strict=True)
    }


def labels_by_id(box: Box, folder: str = "INBOX") -> dict[str, set[str]]:
    ids = box.message_ids(folder)
    flags = box.flags(folder)
    return {ids[uid]: flags[uid] for uid in ids}


def check_labels(box: Box, want: dict[str, tuple[str, bool]], folder: str = "INBOX") -> None:
    got = labels_by_id(box, folder)
    for message_id, (label, draft) in want.items():
        flags = got[message_id]
        assert "\\Seen" not in flags, message_id
        ours = {f for f in flags if f.startswith("triage-")}
        wanted = ({KEYWORDS[label]} if label in KEYWORDS else set()) | (
            {DRAFTED} if draft else set()
        )
        assert ours == wanted, (message_id, flags)


def drafts_by_original(box: Box) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for uid, header in box.headers("Drafts", ("In-Reply-To",)).items():
        found.setdefault(str(header.get("In-Reply-To", "")).strip(), []).append(uid)
    return found


# --------------------------------------------------------------------------- labels and drafts


def test_backfill_labels_drafts_and_a_second_run_changes_nothing(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    raws = mixed_mail(25)
    box.append_many("INBOX", raws)
    want = expected(daemon_classifier, raws)
    assert any(draft for _label, draft in want.values())
    config = write_config(tmp_path, imap_account)

    first = run_once(config, daemon_classifier, imap_account)
    assert first.code == 0
    check_labels(box, want)
    drafts = drafts_by_original(box)
    assert sorted(drafts) == sorted(mid for mid, (_l, d) in want.items() if d)
    assert all(len(uids) == 1 for uids in drafts.values())
    for flags in box.flags("Drafts").values():
        assert {"\\Draft", "\\Seen"} <= flags
    draft_raw = box.full("Drafts", box.uids("Drafts")[0])
    draft = parse_message(draft_raw)
    assert draft.in_reply_to in want and draft.subject.startswith("Re: ")
    assert draft.sender is not None and draft.sender.addr == imap_account.username

    snapshot = box.snapshot()
    with State.open(tmp_path / "state") as state:
        counts = state.counts()
    second = run_once(config, daemon_classifier, imap_account)
    assert second.code == 0
    assert second.outcomes == []
    assert box.snapshot() == snapshot
    with State.open(tmp_path / "state") as state:
        assert state.counts() == counts
        assert sum(counts["test"].values()) == 25


def test_a_new_message_is_labelled_and_only_it(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    config = write_config(tmp_path, imap_account)
    box.append_many("INBOX", mixed_mail(5))
    run_once(config, daemon_classifier, imap_account)
    new = mail(
        99,
        OFFENDER_TEXTS[1],
        sender="Dana Vale <dana@mlm.example>",
        message_id="<new-99@mlm.example>",
    )
    box.append("INBOX", new)
    result = run_once(config, daemon_classifier, imap_account)
    assert [o.message_id for o in result.outcomes] == ["<new-99@mlm.example>"]
    check_labels(box, expected(daemon_classifier, [new]))


def test_once_labels_exactly_as_classify_json(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_model: Path
) -> None:
    """The issue's acceptance check, through the command line both ways."""
    corpus = tmp_path / "mail"
    corpus.mkdir()
    raws = mixed_mail(12) + [
        mail(50, RELATIONSHIP_TEXT.replace("Acme", "Initech"), message_id="<r50@x.example>"),
        mail(
            51,
            OTHER_TEXT,
            message_id="<o51@x.example>",
            extra="List-Id: <digest.example.com>\nPrecedence: bulk",
        ),
    ]
    for i, raw in enumerate(raws):
        (corpus / f"{i:03}.eml").write_bytes(raw)
        box.append("INBOX", raw)
    config = write_config(tmp_path, imap_account)

    ran = cli("run", "--once", "--config", str(config), "--model", str(daemon_model))
    assert ran.returncode == 0, ran.stderr
    classified = cli("classify", "--json", "--model", str(daemon_model), str(corpus))
    assert classified.returncode == 0, classified.stderr
    records = [json.loads(line) for line in classified.stdout.splitlines()]
    assert len(records) == len(raws)
    got = labels_by_id(box)
    for record in records:
        flags = got[record["message_id"]]
        assert "\\Seen" not in flags
        keyword = KEYWORDS.get(record["label"])
        assert {f for f in flags if f in KEYWORDS.values()} == ({keyword} if keyword else set())


def test_backfill_window_and_since(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    box.append("INBOX", mail(1, OFFENDER_TEXTS[1], message_id="<old-1@x.example>"), when=old)
    box.append("INBOX", mail(2, RELATIONSHIP_TEXT, message_id="<new-2@x.example>"))
    config = write_config(tmp_path, imap_account, backfill_days=30)

    first = run_once(config, daemon_classifier, imap_account)
    assert [o.message_id for o in first.outcomes] == ["<new-2@x.example>"]
    assert not {f for f in labels_by_id(box)["<old-1@x.example>"] if f.startswith("triage-")}

    # Later mail still arrives normally; --since reaches back for the old one, once.
    box.append("INBOX", mail(3, OTHER_TEXT, message_id="<new-3@x.example>"))
    since = (old - timedelta(days=1)).date()
    second = run_once(config, daemon_classifier, imap_account, since=since)
    assert sorted(o.message_id for o in second.outcomes) == [
        "<new-3@x.example>",
        "<old-1@x.example>",
    ]
    third = run_once(config, daemon_classifier, imap_account, since=since)
    assert third.outcomes == []


def test_backfill_days_zero_takes_only_new_mail(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    box.append_many("INBOX", mixed_mail(3))
    config = write_config(tmp_path, imap_account, backfill_days=0)
    assert run_once(config, daemon_classifier, imap_account).outcomes == []
    box.append("INBOX", mail(7, RELATIONSHIP_TEXT, message_id="<seven@x.example>"))
    assert [o.message_id for o in run_once(config, daemon_classifier, imap_account).outcomes] == [
        "<seven@x.example>"
    ]


def test_folder_labels_are_copies_made_once(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    raws = mixed_mail(10)
    box.append_many("INBOX", raws)
    want = expected(daemon_classifier, raws)
    config = write_config(tmp_path, imap_account, labels="folders")
    assert run_once(config, daemon_classifier, imap_account).code == 0
    inbox_before = box.snapshot()["INBOX"]
    for _ in range(2):  # the second run must not copy again
        for folder, label in (
            ("Triage/Relationship", "relationship"),
            ("Triage/Solicitation", "solicitation"),
        ):
            ids = sorted(box.message_ids(folder).values())
            assert ids == sorted(m for m, (lab, _d) in want.items() if lab == label)
        drafted = sorted(box.message_ids("Triage/Drafted").values())
        assert drafted == sorted(m for m, (_l, d) in want.items() if d)
        run_once(config, daemon_classifier, imap_account)
    # the originals stay where they were, untouched and unread
    assert box.snapshot()["INBOX"] == inbox_before
    assert all("\\Seen" not in f for f in box.flags("INBOX").values())


# --------------------------------------------------------------------------- UIDVALIDITY


def test_uidvalidity_reset_rescans_without_doing_anything_twice(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    box.create("Networking")
    raws = mixed_mail(10)
    box.append_many("Networking", raws)
    want = expected(daemon_classifier, raws)
    config = write_config(tmp_path, imap_account, folders=("Networking",))
    run_once(config, daemon_classifier, imap_account)
    drafts_before = drafts_by_original(box)
    assert drafts_before

    # The folder is rebuilt: deleted and created again (new UIDVALIDITY), the same mail
    # restored without its keywords, plus one new message.
    box.client.select_folder("INBOX")
    box.delete("Networking")
    box.create("Networking")
    box.append_many("Networking", raws)
    new = mail(
        70,
        OFFENDER_TEXTS[2],
        sender="Rex Bounty <rex@bounty.example>",
        message_id="<fresh-70@bounty.example>",
    )
    box.append("Networking", new)
    want.update(expected(daemon_classifier, [new]))

    result = run_once(config, daemon_classifier, imap_account)
    assert result.code == 0
    statuses = {o.message_id: o.status for o in result.outcomes}
    assert statuses.pop("<fresh-70@bounty.example>") == "labelled"
    assert set(statuses.values()) == {"duplicate"}
    check_labels(box, want, "Networking")  # labels restored, each once
    drafts = drafts_by_original(box)
    assert all(len(uids) == 1 for uids in drafts.values())
    assert set(drafts) - set(drafts_before) <= {"<fresh-70@bounty.example>"}
    snapshot = box.snapshot()
    assert run_once(config, daemon_classifier, imap_account).outcomes == []
    assert box.snapshot() == snapshot


# --------------------------------------------------------------------------- hostile mail


MALFORMED = [
    # garbage bytes, no header at all
    bytes(range(256)) * 4,
    # a multipart whose boundary never appears, and one that never closes
    b"From: a@b.example\r\nSubject: broken\r\nMessage-ID: <broken-1@x>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="nope"\r\n\r\n--other\r\nhello\r\n',
    b"From: a@b.example\r\nSubject: open\r\nMessage-ID: <broken-2@x>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n--b1\r\n'
    b"Content-Type: text/plain\r\n\r\nJoin my team for extra income!\r\n--b1\r\n",
    # 8-bit headers in no declared charset, a NUL, a lying charset
    "From: Jürgen Grüß <j@ü.example>\r\nSubject: Grüße – ça va?\r\nMessage-ID: <eight@x>\r\n"
    "Content-Type: text/plain; charset=klingon\r\n\r\nHallo\x00 Welt, schöne Grüße\r\n".encode(
        "latin-1", "replace"
    ),
    # an endless header line and a base64 body that is not base64
    b"From: x@y.example\r\nSubject: " + b"A" * 20000 + b"\r\nMessage-ID: <long@x>\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
    # no body at all
    b"From: empty@y.example\r\nMessage-ID: <empty@x>\r\n\r\n",
]


def test_malformed_mail_is_handled_and_the_rest_goes_on(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    good = mixed_mail(3)
    for raw in MALFORMED[:3] + good[:2] + MALFORMED[3:] + good[2:]:
        box.append("INBOX", raw)
    config = write_config(tmp_path, imap_account)
    result = run_once(config, daemon_classifier, imap_account)
    assert result.code == 0
    assert len(result.outcomes) == len(MALFORMED) + len(good)
    assert all(o.status in ("labelled", "error") for o in result.outcomes)
    check_labels(box, expected(daemon_classifier, good))
    assert all("\\Seen" not in f for f in box.flags("INBOX").values())
    with State.open(tmp_path / "state") as state:
        assert state.folder("test", "INBOX").last_uid == len(result.outcomes)  # type: ignore[union-attr]
        assert "pending" not in state.counts()["test"]
    assert run_once(config, daemon_classifier, imap_account).outcomes == []


# --------------------------------------------------------------------------- context and policy


def test_people_the_user_writes_to_count_as_relationships(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    friend = "kim@friends.example"
    for i in range(4):
        box.append(
            "Sent",
            (
                f"From: {imap_account.username}\r\nTo: Kim <{friend}>\r\n"
                f"Cc: other{i}@x.example\r\nSubject: hi {i}\r\n"
                f"Message-ID: <sent-{i}@x>\r\n\r\nHello\r\n"
            ).encode(),
        )
    box.append(
        "INBOX",
        mail(1, OFFENDER_TEXTS[0], sender=f"Kim <{friend}>", message_id="<kim-1@friends.example>"),
    )
    config = write_config(tmp_path, imap_account)
    dry = run_once(config, daemon_classifier, imap_account, dry_run=True)
    (outcome,) = dry.outcomes
    assert outcome.decision is not None
    assert "you have written to this sender 4 times" in outcome.decision.reasons
    result = run_once(config, daemon_classifier, imap_account)
    (outcome,) = result.outcomes
    assert outcome.decision is not None
    assert "you have written to this sender 4 times" in outcome.decision.reasons
    with State.open(tmp_path / "state") as state:
        assert state.times_written_to([friend, "other0@x.example"]) == {
            friend: 4,
            "other0@x.example": 1,
        }


def test_cooldown_one_draft_per_sender(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    sender = "Pat Pitch <pat@pitch.example>"
    raws = [
        mail(i, OFFENDER_TEXTS[i % 3], sender=sender, message_id=f"<pat-{i}@pitch.example>")
        for i in range(4)
    ]
    if not any(d for _l, d in expected(daemon_classifier, raws).values()):
        raise AssertionError("the model must want to draft for these offenders")
    box.append_many("INBOX", raws[:2])
    config = write_config(tmp_path, imap_account)
    run_once(config, daemon_classifier, imap_account)
    box.append_many("INBOX", raws[2:])
    result = run_once(config, daemon_classifier, imap_account)
    assert len(box.uids("Drafts")) == 1
    notes = [o.note for o in result.outcomes if o.decision and o.decision.label == "solicitation"]
    assert notes and all("already got a draft" in n for n in notes), notes


def test_daily_cap_and_drafts_turned_off(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    raws = mixed_mail(15)
    box.append_many("INBOX", raws)
    wanted = sum(d for _l, d in expected(daemon_classifier, raws).values())
    assert wanted > 2
    config = write_config(tmp_path, imap_account, drafts="")
    text = config.read_text().replace("daily_cap = 1000", "daily_cap = 2")
    config.write_text(text)
    result = run_once(config, daemon_classifier, imap_account)
    assert len(box.uids("Drafts")) == 2
    assert sum("daily cap" in o.note for o in result.outcomes) == wanted - 2

    other = tmp_path / "off"
    other.mkdir()
    config_off = write_config(
        other, imap_account, folders=("Networking",), drafts="enabled = false"
    )
    box.create("Networking")
    box.append_many("Networking", mixed_mail(5, prefix="n"))
    run_once(config_off, daemon_classifier, imap_account)
    assert len(box.uids("Drafts")) == 2


def test_dry_run_changes_nothing(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_classifier: Classifier
) -> None:
    raws = mixed_mail(6)
    box.append_many("INBOX", raws)
    snapshot = box.snapshot()
    config = write_config(tmp_path, imap_account)
    result = run_once(config, daemon_classifier, imap_account, dry_run=True)
    assert result.code == 0
    assert [o.status for o in result.outcomes] == ["dry-run"] * 6
    want = expected(daemon_classifier, raws)
    assert {o.message_id: o.decision.label for o in result.outcomes if o.decision} == {
        m: lab for m, (lab, _d) in want.items()
    }
    assert box.snapshot() == snapshot
    assert not (tmp_path / "state").exists()
    # and a real run afterwards still does everything
    assert len(run_once(config, daemon_classifier, imap_account).outcomes) == 6


def test_dry_run_command_prints_decisions(
    tmp_path: Path, imap_account: TestAccount, box: Box, daemon_model: Path
) -> None:
    box.append_many("INBOX", mixed_mail(3))
    config = write_config(tmp_path, imap_account)
    ran = cli("run", "--once", "--dry-run", "--config", str(config), "--model", str(daemon_model))
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("test/INBOX UID ") for line in lines)
    assert all(
        "\\Seen" not in f and not any(x.startswith("triage-") for x in f)
        for f in box.flags("INBOX").values()
    )
    # the summary counts what the rows said would be done (issue 13, item 10)
    would = sum("would draft feedback" in line for line in lines)
    assert would >= 1
    assert (
        f"3 messages classified, {would} draft{'s' if would != 1 else ''} would be "
        "written (dry run" in ran.stderr
    )


def test_wrong_password_stops_the_account_with_a_clear_error(
    tmp_path: Path, dovecot: object, imap_account: TestAccount, daemon_model: Path
) -> None:
    config = write_config(tmp_path, imap_account)
    config.write_text(
        config.read_text().replace(f"echo {imap_account.password}", "echo wrong-password")
    )
    started = time.monotonic()
    ran = cli("run", "--config", str(config), "--model", str(daemon_model), timeout=60)
    assert time.monotonic() - started < 30
    assert ran.returncode == 4
    assert "rejected the login" in ran.stderr and "this account stops here" in ran.stderr
    assert "wrong-password" not in ran.stderr
    # the password came from password_command: that is what to check (issue 13, item 6)
    assert "check what password_command for account 'test' prints" in ran.stderr
    assert "triage login" not in ran.stderr
    # exactly one login attempt reached the server: no hammering
    log = (dovecot.root / "dovecot.log").read_text(errors="replace")  # type: ignore[attr-defined]
    assert (
        sum(
            f"({imap_account.username}," in line and "Password mismatch" in line
            for line in log.splitlines()
        )
        == 1
    )
    status = cli("status", "--config", str(config), "--json")
    assert status.returncode == 0, status.stderr
    (account,) = json.loads(status.stdout)["accounts"]
    assert "rejected the login" in account["last_error"]
    assert account["connected"] is False


def test_two_accounts_at_once(
    tmp_path: Path, dovecot: object, imap_account: TestAccount, daemon_classifier: Classifier
) -> None:
    second = dovecot.new_account()  # type: ignore[attr-defined]
    boxes = [Box(imap_account), Box(second)]
    try:
        for i, b in enumerate(boxes):
            b.append_many("INBOX", mixed_mail(4, prefix=f"a{i}"))
        config = write_config(tmp_path, imap_account)
        extra = second.config_toml("implicit", name="second").replace("[[account]]", "[[account]]")
        text = config.read_text().replace(
            "[daemon]",
            extra + f'password_command = "echo {second.password}"\nlabels = "keywords"\n\n[daemon]',
        )
        config.write_text(text)
        cfg = load_config(config)
        assert [a.name for a in cfg.accounts] == ["test", "second"]
        from triage.daemon.options import RunOptions
        from triage.daemon.supervisor import Daemon, DaemonParts
        from triage.mail.credentials import Secret
        from triage.mail.imap import connect

        passwords = {"test": imap_account.password, "second": second.password}
        daemon = Daemon(
            cfg,
            DaemonParts(
                daemon_classifier, lambda a: connect(a, Secret(passwords[a.name]), timeout=10)
            ),
            RunOptions(once=True, progress=False),
        )
        assert daemon.run() == 0
        for b in boxes:
            flags = b.flags("INBOX")
            assert len(flags) == 4
            assert any(any(f.startswith("triage-") for f in fl) for fl in flags.values())
        with State.open(tmp_path / "state") as state:
            counts = state.counts()
        assert sum(counts["test"].values()) == 4 and sum(counts["second"].values()) == 4
    finally:
        for b in boxes:
            b.close()


def test_run_command_with_account_and_since(
    tmp_path: Path,
    dovecot: object,
    imap_account: TestAccount,
    daemon_model: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`triage run --once --account NAME`, in process: only that account is touched."""
    from triage.cli import main

    other = dovecot.new_account()  # type: ignore[attr-defined]
    boxes = {"test": Box(imap_account), "other": Box(other)}
    try:
        for b in boxes.values():
            b.append_many("INBOX", mixed_mail(3))
        config = write_config(tmp_path, imap_account)
        config.write_text(
            config.read_text().replace(
                "[daemon]",
                other.config_toml("implicit", name="other")
                + f'password_command = "echo {other.password}"\nlabels = "keywords"\n\n[daemon]',
            )
        )
        code = main(
            [
                "run",
                "--once",
                "--account",
                "other",
                "--config",
                str(config),
                "--model",
                str(daemon_model),
                "--since",
                date.today().isoformat(),
            ]
        )
        assert code == 0
        labelled = {
            name: sum(
                any(f.startswith("triage-") for f in flags) for flags in b.flags("INBOX").values()
            )
            for name, b in boxes.items()
        }
        assert labelled["test"] == 0 and labelled["other"] >= 1
        assert main(["run", "--once", "--account", "nobody", "--config", str(config)]) == 2
        assert "no account named 'nobody'" in capsys.readouterr().err
        with pytest.raises(SystemExit) as stopped:  # argparse rejects it
            main(["run", "--once", "--config", str(config), "--since", "last week"])
        assert stopped.value.code == 2
        assert "YYYY-MM-DD" in capsys.readouterr().err
    finally:
        for b in boxes.values():
            b.close()
