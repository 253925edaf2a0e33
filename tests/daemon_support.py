"""Helpers for the daemon tests: a model, test mail, a raw IMAP view of the mailbox, configs.

Import the fixtures into a test module (`from daemon_support import daemon_model  # noqa`) to
use them. The model is `models/triage.model` when it exists (or `TRIAGE_TEST_MODEL`), else a
tiny one trained in seconds on the synthetic corpus of `tiny_model.py`: the daemon tests check
plumbing (every message labelled exactly as the classifier says, exactly once), not accuracy,
and compare against the classifier itself rather than against fixed labels.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from dovecot import TestAccount
from imapclient import IMAPClient
from tiny_model import SOLICITATION, eml, train_tiny_model

from triage.config import Config, DraftsConfig, load_config
from triage.daemon.clock import Backoff
from triage.daemon.options import RunOptions
from triage.daemon.outcomes import Outcome
from triage.daemon.supervisor import Daemon, DaemonParts, MailboxFactory
from triage.decide.policy import DraftPolicy
from triage.mail.credentials import Secret
from triage.mail.imap import connect, ssl_context
from triage.model.classifier import Classifier, shipped_model_path

REPO = Path(__file__).resolve().parent.parent
FAST_BACKOFF = Backoff(base=0.05, cap=0.5)


# --------------------------------------------------------------------------- the model


@pytest.fixture(scope="session")
def daemon_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    override = os.environ.get("TRIAGE_TEST_MODEL", "")
    if override:
        return Path(override)
    if shipped_model_path().exists():
        return shipped_model_path()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny corpus lacks some offenses
        return train_tiny_model(tmp_path_factory.mktemp("model") / "tiny.model")


@pytest.fixture(scope="session")
def daemon_classifier(daemon_model: Path) -> Classifier:
    """The classifier as `triage run` builds it with the default [drafts] settings."""
    drafts = DraftsConfig()
    return Classifier.load(
        daemon_model,
        policy=DraftPolicy(enabled=drafts.enabled, min_confidence=drafts.min_confidence),
    )


# --------------------------------------------------------------------------- mail


RELATIONSHIP_TEXT = (
    "Thank you so much for the introduction to Acme. We had coffee on Monday and it was the "
    "most useful conversation I have had about hiring in months. I owe you one, truly grateful."
)
OTHER_TEXT = (
    "Reminder: the pricing planning meeting moves to Friday at 10:00 in room 4. Please update "
    "the agenda doc for Globex before then. Minutes from last week are attached."
)
OFFENDER_TEXTS = SOLICITATION[:3]  # introduction ask + network harvesting, MLM, referral bounty


def mail(
    n: int, text: str, *, sender: str = "", subject: str = "", message_id: str = "", extra: str = ""
) -> bytes:
    """A plain message with CRLF line endings (as IMAP hands them out)."""
    sender = sender or f"Person {n} <person{n}@example.net>"
    return eml(
        text + f"\n\nPerson {n}",
        sender=sender,
        subject=subject or f"Note {n}",
        message_id=message_id or f"<m{n}@example.net>",
        extra=extra,
        newline="\r\n",
    )


def mixed_mail(count: int, *, start: int = 0, prefix: str = "m") -> list[bytes]:
    """Relationship, solicitation (blatant offenders, one sender each) and other mail."""
    texts = [RELATIONSHIP_TEXT, OFFENDER_TEXTS[0], OTHER_TEXT, OFFENDER_TEXTS[1], OFFENDER_TEXTS[2]]
    return [
        mail(
            i,
            texts[i % len(texts)],
            sender=f"Sender {i} <sender{i}@{prefix}corp.example>",
            message_id=f"<{prefix}{i}@example.net>",
        )
        for i in range(start, start + count)
    ]


# --------------------------------------------------------------------------- the mailbox


class Box:
    """A raw imapclient view of a test mailbox, to set up and inspect what the daemon did."""

    def __init__(self, account: TestAccount) -> None:
        self.test_account = account
        acct = account.account("implicit")
        self.client = IMAPClient(
            acct.host, port=acct.port, ssl=True, ssl_context=ssl_context(acct), timeout=15
        )
        self.client.login(account.username, account.password)

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001
            self.client.shutdown()

    def append(
        self, folder: str, raw: bytes, flags: Sequence[str] = (), when: datetime | None = None
    ) -> int:
        response = self.client.append(folder, raw, flags=flags, msg_time=when)
        text = response.decode() if isinstance(response, bytes) else str(response)
        return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))

    def append_many(self, folder: str, raws: Iterable[bytes]) -> None:
        items = list(raws)
        for start in range(0, len(items), 500):
            self.client.multiappend(folder, items[start : start + 500])

    def create(self, folder: str) -> None:
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)

    def delete(self, folder: str) -> None:
        self.client.delete_folder(folder)

    def exists(self, folder: str) -> bool:
        return bool(self.client.folder_exists(folder))

    def uids(self, folder: str) -> list[int]:
        self.client.select_folder(folder, readonly=True)
        return sorted(self.client.search(["ALL"]))

    def flags(self, folder: str) -> dict[int, set[str]]:
        """uid -> flags (without \\Recent, which is the server's, not ours)."""
        self.client.select_folder(folder, readonly=True)
        uids = self.client.search(["ALL"])
        if not uids:
            return {}
        data = self.client.fetch(uids, ["FLAGS"])
        return {uid: {_s(f) for f in d[b"FLAGS"]} - {"\\Recent"} for uid, d in data.items()}

    def headers(self, folder: str, names: Sequence[str] = ("Message-ID",)) -> dict[int, Any]:
        """uid -> parsed header fields."""
        from email.parser import BytesHeaderParser

        self.client.select_folder(folder, readonly=True)
        uids = self.client.search(["ALL"])
        if not uids:
            return {}
        part = f"BODY.PEEK[HEADER.FIELDS ({' '.join(names).upper()})]"
        data = self.client.fetch(uids, [part])
        return {
            uid: BytesHeaderParser().parsebytes(
                next(v for k, v in d.items() if k.startswith(b"BODY["))
            )
            for uid, d in data.items()
        }

    def message_ids(self, folder: str) -> dict[int, str]:
        return {
            uid: str(h.get("Message-ID", "")).strip() for uid, h in self.headers(folder).items()
        }

    def full(self, folder: str, uid: int) -> bytes:
        self.client.select_folder(folder, readonly=True)
        return bytes(self.client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])

    def snapshot(self) -> dict[str, Any]:
        """Every folder's messages with their flags and Message-IDs: to prove nothing changed."""
        result: dict[str, Any] = {}
        for flags, _delim, name in self.client.list_folders():
            if {_s(f).lower() for f in flags} & {"\\noselect", "\\nonexistent"}:
                continue
            ids = self.message_ids(name)
            flags = self.flags(name)
            result[name] = sorted((ids[u], sorted(flags[u])) for u in ids)
        return result


def _s(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.fixture
def box(imap_account: TestAccount) -> Iterator[Box]:
    b = Box(imap_account)
    yield b
    b.close()


# --------------------------------------------------------------------------- config and runs


def write_config(
    directory: Path,
    account: TestAccount,
    *,
    labels: str = "keywords",
    folders: Sequence[str] = ("INBOX",),
    backfill_days: int = 30,
    daemon: str = "",
    drafts: str = "",
    name: str = "test",
) -> Path:
    """A config file for the test account; state in `directory/state`."""
    folder_list = ", ".join(f'"{f}"' for f in folders)
    text = (
        f'state_dir = "{directory / "state"}"\n\n'
        + account.config_toml("implicit", name=name)
        + f'labels = "{labels}"\n'
        f"folders = [{folder_list}]\n"
        f'password_command = "echo {account.password}"\n\n'
        f"[daemon]\nbackfill_days = {backfill_days}\n{daemon}\n"
        f'[drafts]\ndaily_cap = 1000\nfrom_name = "Sam Reader"\n{drafts}\n'
    )
    path = directory / "config.toml"
    path.write_text(text)
    return path


def connector(test_account: TestAccount, *, readonly: bool = False) -> Any:
    def connect_account(account: Any) -> Any:
        return connect(account, Secret(test_account.password), readonly=readonly, timeout=10)

    return connect_account


@dataclass
class RunResult:
    code: int
    daemon: Daemon
    outcomes: list[Outcome]


def build_daemon(
    config: Config,
    classifier: Classifier,
    connect: MailboxFactory,
    outcomes: list[Outcome],
    **kwargs: Any,
) -> Daemon:
    """A daemon with fast backoff, no progress display, its outcomes collected; each keyword
    names a field of `RunOptions` or of `DaemonParts`."""
    run_fields = {f.name for f in fields(RunOptions)}
    options = {k: v for k, v in kwargs.items() if k in run_fields}
    parts = {k: v for k, v in kwargs.items() if k not in run_fields}
    parts.setdefault("backoff", FAST_BACKOFF)
    options.setdefault("progress", False)
    return Daemon(
        config,
        DaemonParts(classifier, connect, on_outcome=outcomes.append, **parts),
        RunOptions(**options),
    )


def run_once(
    config_path: Path, classifier: Classifier, test_account: TestAccount, **kwargs: Any
) -> RunResult:
    """`triage run --once`, in process, with fast backoff."""
    outcomes: list[Outcome] = []
    daemon = build_daemon(
        load_config(config_path),
        classifier,
        connector(test_account, readonly=kwargs.get("dry_run", False)),
        outcomes,
        once=True,
        **kwargs,
    )
    code = daemon.run()
    return RunResult(code, daemon, outcomes)


def start_daemon(
    config: Config | Path, classifier: Classifier, test_account: TestAccount, **kwargs: Any
) -> tuple[Daemon, Any, list[Outcome]]:
    """`triage run` in a thread; returns (daemon, thread, outcomes)."""
    import threading

    if isinstance(config, Path):
        config = load_config(config)
    outcomes: list[Outcome] = []
    daemon = build_daemon(config, classifier, connector(test_account), outcomes, **kwargs)
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", daemon.run()), daemon=True)
    thread.start()
    thread.result = result  # type: ignore[attr-defined]
    return daemon, thread, outcomes


def cli(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`python -m triage ARGS` in a subprocess, from the repository root."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("CI_FORCE_TTY", None)
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def popen(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "triage", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_for(condition: Any, timeout: float, interval: float = 0.02) -> float:
    """Poll `condition()` until true; returns the seconds it took, fails after `timeout`."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
