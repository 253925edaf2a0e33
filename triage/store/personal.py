"""Personal models: the shipped training data plus the user's corrections, versioned per account.

Where they live: `paths.models_dir(state_dir)/<account>/`:

    personal-0007.model    the newest KEPT_VERSIONS (5) versions accepted, never overwritten
    personal-0008.model    (atomic writes); older ones are deleted when a new one is saved
    current                the file name of the version in use ("shipped", or no file: none)
    .lock                  held while a version is trained or the pointer moves

This module is what uses them: the version store and its pointer, rollback, the classifier of
an account and `triage status`'s report. Making a version is triage.training.learning's (which
imports scikit-learn; nothing here does); the daemon starts it in the background
(triage.daemon.retraining).

`AccountClassifier` is what classifies an account's mail everywhere (`triage run`, `classify
--config`, `explain`): the current personal model (or the base model), the config's allow/deny
lists, and a look at the `current` pointer before every batch, so a running daemon picks up a
new version (or a rollback) without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage import paths
from triage.config import Config, LearningConfig
from triage.decide.lists import SenderLists
from triage.decide.policy import Decision, DraftPolicy, SenderContext
from triage.errors import ModelError, StateError, TriageError
from triage.files import write_atomically
from triage.message.parse import Message
from triage.model import modelfile
from triage.model.classifier import Classifier, shipped_model_path
from triage.store.corrections import CorrectionStore
from triage.store.schema import db_path

log = logging.getLogger(__name__)

POINTER = "current"
BASE = "shipped"  # what the pointer says when the base model is in use
LOCK = ".lock"
KEPT_VERSIONS = 5  # personal model versions kept for `triage learn --rollback`
_VERSION = re.compile(r"personal-(\d{4,})\.model")


class LearnBusy(TriageError):
    """Another process is training a model for this account right now."""


# --------------------------------------------------------------------------- the store


def account_dir(state_dir: Path, account: str) -> Path:
    return paths.models_dir(Path(state_dir)) / account


def version_name(number: int) -> str:
    return f"personal-{number:04d}.model"


def version_number(name: str) -> int | None:
    match = _VERSION.fullmatch(name)
    return int(match.group(1)) if match else None


def read_pointer(directory: Path) -> str | None:
    """The file name of the current version, or None for the base model."""
    try:
        name = (directory / POINTER).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read {directory / POINTER}: {exc}") from None
    if not name or name == BASE:
        return None
    if version_number(name) is None:
        raise ModelError(
            f"{directory / POINTER} names {name!r}, which is not a personal model; "
            f"run `triage learn --rollback` or delete the file"
        )
    return name


def write_pointer(directory: Path, name: str | None) -> None:
    """Point `current` at a version (None: the base model), atomically."""
    write_atomically(directory / POINTER, ((name or BASE) + "\n").encode())


@contextlib.contextmanager
def locked(directory: Path, *, wait: bool = True) -> Iterator[None]:
    """One trainer per account at a time, across processes (the daemon and `triage learn`)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LearnBusy(f"a model for {directory.name!r} is being trained right now") from None
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Version:
    number: int
    path: Path
    current: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    problem: str = ""  # why the file cannot be used, "" when it can

    @property
    def name(self) -> str:
        return self.path.name


def versions(state_dir: Path, account: str, *, metadata: bool = True) -> list[Version]:
    """Every personal model of an account, oldest first."""
    directory = account_dir(state_dir, account)
    if not directory.is_dir():
        return []
    current = read_pointer(directory)
    found = []
    for path in directory.iterdir():
        number = version_number(path.name)
        if number is None:
            continue
        meta: dict[str, Any] = {}
        problem = ""
        if metadata:
            try:
                meta = modelfile.read_metadata(path)
            except ModelError as exc:
                problem = str(exc)
        found.append(Version(number, path, path.name == current, meta, problem))
    return sorted(found, key=lambda v: v.number)


def prune_versions(state_dir: Path, account: str, keep: int = KEPT_VERSIONS) -> list[str]:
    """Delete all but the newest `keep` versions (never the one in use), so that retraining
    every few weeks does not fill the disk at ~14 MB a version; the names deleted. Call it
    holding `locked`."""
    found = versions(state_dir, account, metadata=False)
    doomed = [v for v in found[: max(len(found) - keep, 0)] if not v.current]
    for version in doomed:
        with contextlib.suppress(FileNotFoundError):
            version.path.unlink()
    return [v.name for v in doomed]


def current_model_path(state_dir: Path, account: str) -> Path | None:
    """The file of the account's current personal model, or None when it uses the base."""
    directory = account_dir(state_dir, account)
    name = read_pointer(directory)
    return directory / name if name else None


@dataclass(frozen=True)
class Rollback:
    previous: str  # the version that was current ("shipped" for the base model)
    now: str  # the version that is current now


def rollback(state_dir: Path, account: str, *, now: datetime | None = None) -> Rollback:
    """Make the next older version current (the base model after the oldest)."""
    directory = account_dir(state_dir, account)
    with locked(directory):
        current = read_pointer(directory)
        if current is None:
            raise TriageError(
                f"account {account!r} already uses the base model; there is no "
                f"older version to go back to"
            )
        number = version_number(current) or 0
        older = [v for v in versions(state_dir, account) if v.number < number and not v.problem]
        target = older[-1].name if older else None
        write_pointer(directory, target)
    # The daemon should not retrain at once from the corrections that made the version that
    # was just given up: only new corrections count towards `retrain_after` from here.
    with contextlib.suppress(StateError), correction_store(state_dir) as store:
        if store is not None:
            store.mark_run(
                account,
                store.last_id(account),
                f"rollback to {target or BASE}",
                now or datetime.now(UTC),
            )
    return Rollback(current, target or BASE)


@contextlib.contextmanager
def correction_store(state_dir: Path) -> Iterator[CorrectionStore | None]:
    """The account's corrections, or None before the daemon has made a state database."""
    if not db_path(state_dir).exists():
        yield None
        return
    with CorrectionStore.open(state_dir) as store:
        yield store


# --------------------------------------------------------------------------- classifying


def base_model_path(learning: LearningConfig | None = None) -> Path:
    return (
        learning.base_model if learning and learning.base_model else None
    ) or shipped_model_path()


def draft_policy(config: Config) -> DraftPolicy:
    return DraftPolicy(enabled=config.drafts.enabled, min_confidence=config.drafts.min_confidence)


class AccountClassifier(Classifier):
    """One account's classifier: its current personal model (or the base model) plus the
    config's lists. Before every batch it looks at the `current` pointer (one stat) and
    switches models when it moved, so the daemon picks up `triage learn` without a restart.

    It *is* a `Classifier`: the loaded model's fitted state is shared, not copied, so an
    account without a personal model costs no extra memory.
    """

    def __init__(
        self,
        base: Classifier,
        *,
        lists: SenderLists | None = None,
        state_dir: Path | None = None,
        account: str = "",
    ) -> None:
        # No Classifier.__init__: the state of a loaded Classifier is adopted instead.
        self._account_base = base
        self._account_name = account
        self._account_lists = lists or SenderLists()
        self._account_dir = account_dir(state_dir, account) if state_dir and account else None
        self._account_seen: tuple[int, int, int] | None = None
        self._account_loaded = ""  # file name of the personal model in use, "" = the base
        self._account_lock = threading.RLock()
        self._account_seen_once = False  # the first look logs quietly
        self._adopt(base)
        self.refresh()
        self._account_seen_once = True

    def _adopt(self, classifier: Classifier) -> None:
        own = {k: v for k, v in vars(self).items() if k.startswith("_account_")}
        self.__dict__.clear()
        self.__dict__.update(vars(classifier))
        self.__dict__.update(own)

    @property
    def lists(self) -> SenderLists:
        return self._account_lists

    @property
    def personal_model(self) -> str:
        """The file name of the personal model in use ("" for the base model)."""
        return self._account_loaded

    def refresh(self) -> bool:
        """Switch to the version `current` names, if it changed; True when it did."""
        if self._account_dir is None:
            return False
        with self._account_lock:
            try:
                st = (self._account_dir / POINTER).stat()
                seen: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                seen = None
            if seen == self._account_seen and self._account_seen_once:
                return False
            self._account_seen = seen
            try:
                name = read_pointer(self._account_dir) or ""
            except ModelError as exc:
                log.error("account %s: %s; keeping the model in use", self._account_name, exc)
                return False
            if name == self._account_loaded:
                return False
            if not name:
                self._adopt(self._account_base)
                self._account_loaded = ""
                log.info(
                    "account %s: classifying with the base model %s",
                    self._account_name,
                    self.version,
                )
                return True
            try:
                loaded = Classifier.load(self._account_dir / name, self._account_base.policy)
            except (ModelError, OSError) as exc:
                log.error(
                    "account %s: cannot use the personal model %s (%s); keeping %s",
                    self._account_name,
                    name,
                    exc,
                    self.version,
                )
                return False
            first = not self._account_loaded and self._account_seen_once is False
            self._adopt(loaded)
            self._account_loaded = name
            log.log(
                logging.DEBUG if first else logging.INFO,
                "account %s: classifying with the personal model %s",
                self._account_name,
                self.version,
            )
            return True

    def classify(
        self, messages: Sequence[Message], contexts: Sequence[SenderContext] | None = None
    ) -> list[Decision]:
        self.refresh()
        decisions = super().classify(messages, contexts)
        return self._account_lists.apply(messages, decisions)


def account_classifier(
    config: Config, account: str | None, *, base: Classifier | None = None
) -> AccountClassifier:
    """The classifier `triage run`, `classify --config` and `explain` use for an account (with
    `account` None: the base model and the lists only)."""
    if base is None:
        path = base_model_path(config.learning)
        if not path.exists():
            raise ModelError(f"no model at {path}; build one with `triage train`")
        base = Classifier.load(path, policy=draft_policy(config))
    return AccountClassifier(
        base,
        lists=SenderLists(config.lists),
        state_dir=config.state_dir if account else None,
        account=account or "",
    )


# --------------------------------------------------------------------------- `triage status`


def account_report(config: Config, account: str, store: CorrectionStore | None) -> dict[str, Any]:
    """Corrections, the model in use and the shadow-mode review numbers of one account."""
    try:
        model = read_pointer(account_dir(config.state_dir, account)) or BASE
    except ModelError as exc:
        model = f"? ({exc})"
    mode = next((a.mode for a in config.accounts if a.name == account), config.mode)
    report: dict[str, Any] = {
        "mode": mode,
        "model": model,
        "corrections": 0,
        "corrections_since_learn": 0,
        "review": {},
        "review_target": config.learning.review_target,
    }
    if store is None:
        return report
    summary = store.review_summary(account)
    report["corrections"] = summary.corrections
    report["corrections_since_learn"] = summary.since_learn
    report["review"] = {
        label: {
            "reviewed": summary.reviewed[label],
            "right": summary.right[label],
            "precision": None
            if summary.precision(label) is None
            else round(summary.precision(label) or 0.0, 3),
        }
        for label in ("relationship", "solicitation")
    }
    return report


def report_lines(report: dict[str, Any]) -> list[str]:
    """The lines `triage status` prints for `account_report`."""
    lines = [
        f"  model:         {report['model']}"
        + ("" if report["model"] == BASE else " (personal; `triage learn --rollback` goes back)"),
        f"  corrections:   {report['corrections']} ({report['corrections_since_learn']} "
        f"since the last `triage learn`)",
    ]
    review = report["review"]
    reviewed = {label: info["reviewed"] for label, info in review.items()}
    if report["mode"] == "shadow" or any(reviewed.values()):
        parts = []
        for label, info in review.items():
            if info["reviewed"]:
                parts.append(
                    f"{label} {info['right']}/{info['reviewed']} right "
                    f"(precision {info['precision']:.2f})"
                )
            else:
                parts.append(f"{label} none reviewed yet")
        lines.append(f"  reviewed:      {'; '.join(parts)}")
        target = report["review_target"]
        if report["mode"] == "shadow":
            if reviewed and all(n >= target for n in reviewed.values()):
                lines.append(
                    f"  shadow mode:   {target}+ reviews per class: if those "
                    f'precisions are good enough for you, set mode = "active"'
                )
            else:
                lines.append(
                    f"  shadow mode:   only the review label is applied; review "
                    f'{target} per class before switching to mode = "active"'
                )
    return lines
