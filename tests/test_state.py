"""The state database: schema, checkpoints, ledger, draft planning, contacts, heartbeats."""

from __future__ import annotations

import sqlite3
import stat
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from triage.daemon.clock import Backoff
from triage.errors import StateError
from triage.mail.message_ids import message_key
from triage.store.records import Intent
from triage.store.schema import SCHEMA_VERSION, db_path
from triage.store.state import State

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def intent(
    uid: int,
    *,
    sender: str = "a@x.example",
    want_draft: bool = False,
    key: str = "",
    labels: tuple[str, ...] = ("triage-solicitation",),
) -> Intent:
    key = key or f"<m{uid}@x>"
    return Intent(
        uid=uid,
        message_key=key,
        message_id=key,
        sender=sender,
        subject="Hi",
        label="solicitation",
        confidence=0.9,
        offenses=("mlm-recruiting",),
        model_version="v1",
        labels=labels,
        want_draft=want_draft,
        draft_message_id=f"<triage.{uid}@x>" if want_draft else "",
    )


def plan(
    state: State,
    intents: list[Intent],
    *,
    cap: int = 10,
    cooldown: int = 90,
    now: datetime = NOW,
    account: str = "acct",
) -> dict[int, bool]:
    plans = state.record_intents(
        account,
        "INBOX",
        7,
        intents,
        drafts_folder="Drafts",
        daily_cap=cap,
        cooldown_days=cooldown,
        now=now,
    )
    return {uid: p.planned for uid, p in plans.items()}


def test_schema_is_created_private_and_versioned(tmp_path: Path) -> None:
    with State.open(tmp_path / "state") as state:
        assert state.folder("a", "INBOX") is None
    path = db_path(tmp_path / "state")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StateError, match="newer than this triage"):
        State.open(tmp_path / "state")


def test_read_only_needs_an_existing_database(tmp_path: Path) -> None:
    with pytest.raises(StateError):
        State.open(tmp_path / "nothing", readonly=True)
    State.open(tmp_path / "s").close()
    with (
        State.open(tmp_path / "s", readonly=True) as state,
        pytest.raises(StateError, match="read-only"),
    ):
        state.advance("a", "INBOX", 1, 5, None, NOW)


def test_checkpoints_never_move_back(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        state.start_folder(
            "a",
            "INBOX",
            uidvalidity=7,
            last_uid=0,
            backfill_since=date(2026, 2, 1),
            backfill_end_uid=40,
            highestmodseq=9,
            now=NOW,
        )
        state.advance("a", "INBOX", 7, 30, 12, NOW)
        state.advance("a", "INBOX", 7, 20, None, NOW)
        state.advance("a", "INBOX", 8, 99, None, NOW)  # another UIDVALIDITY: ignored
        checkpoint = state.folder("a", "INBOX")
        assert checkpoint is not None
        assert (
            checkpoint.last_uid,
            checkpoint.highestmodseq,
            checkpoint.backfill_since,
            checkpoint.backfill_end_uid,
        ) == (30, 12, date(2026, 2, 1), 40)
        # a new UIDVALIDITY starts over, keeping when the folder was first seen
        state.start_folder(
            "a",
            "INBOX",
            uidvalidity=8,
            last_uid=0,
            backfill_since=None,
            backfill_end_uid=50,
            highestmodseq=None,
            now=NOW + timedelta(1),
        )
        again = state.folder("a", "INBOX")
        assert again is not None and again.uidvalidity == 8 and again.last_uid == 0
        assert again.created_at == checkpoint.created_at


def test_ledger_rows_and_settling(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        state.start_folder(
            "acct",
            "INBOX",
            uidvalidity=7,
            last_uid=0,
            backfill_since=None,
            backfill_end_uid=0,
            highestmodseq=None,
            now=NOW,
        )
        plan(state, [intent(1), intent(2), intent(3)])
        rows = state.ledger("acct", "INBOX", 7, [1, 2, 3, 4])
        assert sorted(rows) == [1, 2, 3] and all(not r.settled for r in rows.values())
        assert rows[1].labels == ("triage-solicitation",)
        state.settle(
            "acct",
            "INBOX",
            7,
            [(1, "done", ""), (2, "error", "boom")],
            checkpoint_uid=2,
            highestmodseq=None,
            now=NOW,
        )
        rows = state.ledger("acct", "INBOX", 7, [1, 2, 3])
        assert rows[1].status == "done" and rows[1].labels_applied
        assert rows[2].status == "error" and rows[2].error == "boom"
        assert rows[3].status == "pending"
        assert state.folder("acct", "INBOX").last_uid == 2  # type: ignore[union-attr]
        # recording the same UID again changes nothing
        plan(state, [intent(1, labels=())])
        assert state.ledger("acct", "INBOX", 7, [1])[1].labels == ("triage-solicitation",)
        assert state.counts() == {"acct": {"solicitation": 1, "error": 1, "pending": 1}}
        assert state.last_errors("acct") == [("INBOX", 2, "boom")]


def test_seen_before_matches_other_uidvalidities_only(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        plan(state, [intent(1, key="<same@x>")])
        state.settle(
            "acct", "INBOX", 7, [(1, "done", "")], checkpoint_uid=None, highestmodseq=None, now=NOW
        )
        assert state.seen_before("acct", "INBOX", 7, ["<same@x>"]) == {}
        found = state.seen_before("acct", "INBOX", 8, ["<same@x>", "<other@x>"])
        assert list(found) == ["<same@x>"] and found["<same@x>"].uid == 1


def test_draft_planning_one_per_message_cooldown_and_cap(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        planned = plan(
            state,
            [
                intent(1, sender="a@x", want_draft=True),
                intent(2, sender="a@x", want_draft=True),  # same sender: cooldown
                intent(3, sender="b@x", want_draft=True),
                intent(4, sender="c@x", want_draft=True, key="<m1@x>"),  # same original
            ],
            cap=10,
        )
        assert planned == {1: True, 2: False, 3: True, 4: False}
        assert state.ledger("acct", "INBOX", 7, [2])[2].note.startswith(
            "this sender already got a draft"
        )
        assert state.recently_drafted(["a@x", "b@x", "z@x"], 90, NOW) == {"a@x", "b@x"}
        # after the cooldown the sender may get another
        later = NOW + timedelta(days=91)
        assert plan(state, [intent(10, sender="a@x", want_draft=True)], now=later) == {10: True}
        # the cap counts the last 24 hours, over all accounts
        more = [intent(20 + i, sender=f"s{i}@x", want_draft=True) for i in range(5)]
        assert plan(state, more, cap=3, now=later, account="other") == {
            20: True,
            21: True,
            22: False,
            23: False,
            24: False,
        }
        assert "daily cap of 3" in state.ledger("other", "INBOX", 7, [22])[22].note
        # a draft that could not be written does not count
        state.draft_failed("<triage.21@x>")
        assert plan(state, [intent(30, sender="q@x", want_draft=True)], cap=3, now=later) == {
            30: True
        }
        assert plan(state, [intent(31, sender="r@x", want_draft=True)], cap=0, now=later) == {
            31: False
        }


def test_draft_written_and_listed(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        plan(state, [intent(1, want_draft=True)])
        state.draft_written("acct", "INBOX", 7, 1, "<triage.1@x>", NOW)
        (record,) = state.drafts("acct")
        assert record.status == "written" and record.sender == "a@x.example"
        assert record.original_message_id == "<m1@x>" and record.drafts_folder == "Drafts"
        assert state.ledger("acct", "INBOX", 7, [1])[1].draft_written
        assert state.drafts("someone-else") == []


def test_planning_is_safe_across_threads(tmp_path: Path) -> None:
    State.open(tmp_path).close()
    results: list[dict[int, bool]] = []

    def worker(n: int) -> None:
        with State.open(tmp_path) as state:
            results.append(
                plan(
                    state,
                    [intent(100 * n + i, sender=f"u{n}-{i}@x", want_draft=True) for i in range(5)],
                    cap=7,
                    account=f"acct{n}",
                )
            )

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sum(r.values()) for r in results) == 7


def test_contacts_counts_and_reset(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        state.add_contacts("a", "Sent", 1, 10, {"kim@x": 3, "lee@x": 1}, reset=False, now=NOW)
        state.add_contacts("a", "Sent", 1, 12, {"kim@x": 1}, reset=False, now=NOW)
        state.add_contacts("b", "Sent", 5, 3, {"kim@x": 2}, reset=False, now=NOW)
        assert state.times_written_to(["kim@x", "lee@x", "nobody@x"]) == {"kim@x": 6, "lee@x": 1}
        assert state.sent_checkpoint("a") == ("Sent", 1, 12)
        state.add_contacts("a", "Sent", 2, 4, {"lee@x": 1}, reset=True, now=NOW)
        assert state.times_written_to(["kim@x", "lee@x"]) == {"kim@x": 2, "lee@x": 1}


def test_heartbeats(tmp_path: Path) -> None:
    with State.open(tmp_path) as state:
        state.heartbeat("a", "INBOX", now=NOW, started=True, connected=False, pid=42, host="h")
        state.heartbeat("a", "INBOX", now=NOW + timedelta(seconds=5), connected=True, activity=True)
        state.heartbeat("a", "INBOX", now=NOW + timedelta(seconds=9), error="lost it")
        (activity,) = state.activity()
        assert activity.pid == 42 and activity.connected and not activity.stopped
        assert activity.last_activity_at == NOW + timedelta(seconds=5)
        assert activity.heartbeat_at == NOW + timedelta(seconds=9)
        assert activity.last_error == "lost it"


def test_message_keys_and_backoff() -> None:
    assert message_key(b"Message-ID: <a@b>\r\n\r\nx", "<a@b>") == "<a@b>"
    one = message_key(b"From: x\r\nSubject: y\r\n\r\nbody one", "")
    assert one == message_key(b"From: x\r\nSubject: y\r\n\r\nbody two", "")
    assert one != message_key(b"From: x\r\nSubject: z\r\n\r\nbody one", "")
    backoff = Backoff(base=1.0, cap=60.0)
    delays = [backoff.delay(n) for n in range(10)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0
    assert all(30.0 <= d <= 60.0 for d in delays[6:])


@pytest.mark.parametrize("had_corrections", [False, True])
def test_a_version_1_database_is_upgraded_with_its_rows_kept(
    tmp_path: Path, had_corrections: bool
) -> None:
    """Version 2 moved the corrections tables into the one schema; a database from before,
    with or without the tables triage.store.corrections used to make itself, keeps every row."""
    import sqlite3

    from triage.store import schema

    path = tmp_path / "state" / schema.DB_NAME
    path.parent.mkdir()
    db = sqlite3.connect(path)
    version_1 = schema.SCHEMA.replace(schema.CORRECTIONS_SCHEMA, "")
    db.executescript(version_1 + (schema.CORRECTIONS_SCHEMA if had_corrections else ""))
    db.execute(
        "INSERT INTO folders (account, folder, uidvalidity, last_uid, created_at, "
        "updated_at) VALUES ('a', 'INBOX', 7, 41, '2026-01-01T00:00:00.000000Z', "
        "'2026-01-01T00:00:00.000000Z')"
    )
    if had_corrections:
        db.execute(
            "INSERT INTO learn_runs (account, last_correction_id, at) "
            "VALUES ('a', 3, '2026-01-01T00:00:00.000000Z')"
        )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with State.open(tmp_path / "state") as state:
        checkpoint = state.folder("a", "INBOX")
        assert checkpoint is not None and checkpoint.last_uid == 41
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 2
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"corrections", "label_state", "label_sync", "learn_runs"} <= tables
    runs = db.execute("SELECT last_correction_id FROM learn_runs").fetchall()
    assert runs == ([(3,)] if had_corrections else [])
