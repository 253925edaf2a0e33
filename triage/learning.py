"""Personal models: the shipped training data plus the user's corrections, versioned per account.

Where they live: `paths.models_dir(state_dir)/<account>/`:

    personal-0001.model    every version ever accepted, never overwritten (atomic writes)
    personal-0002.model
    current                the file name of the version in use ("shipped", or no file: none)
    .lock                  held while a version is trained or the pointer moves

How a version is made (`learn`):

1. The examples: the latest correction or shadow-mode review of each message
   (`triage.corrections`), parsed from the bytes the daemon kept and prepared with the same
   `features.prepare` as every other message, labelled as the user said, weighted
   `[learning] correction_weight` (default 5) against a training message's 1.
2. The check, on data neither model was fitted on: a stratified 20 % of the base model's own
   training rows (`Model.training_set`), plus a quarter of the examples (chosen by a hash of the
   message, at least one when there are four). A *reference* is fitted the way the current
   model was (base rows + the examples it had), a *candidate* the way the new one would be
   (base rows + every example), both on the remaining rows, and both predict the held-out
   rows. The candidate must not be worse: macro-F1 on the base holdout at most
   `TOLERANCE` (0.02) lower, and no fewer held-out examples right. `--force` skips the check.
3. The new version is fitted on everything, written to a temporary file and renamed into place,
   then the `current` pointer is replaced the same way. Old versions stay; `rollback` points
   `current` at the next older version (and finally at the base model).

`AccountClassifier` is what classifies an account's mail everywhere (`triage run`, `classify
--config`, `explain`): the current personal model (or the base model), the config's allow/deny
lists, and a look at the `current` pointer before every batch, so a running daemon picks up a
new version (or a rollback) without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedShuffleSplit

from triage import model as model_store
from triage import paths
from triage.classifier import Classifier, shipped_model_path
from triage.config import Config, LearningConfig
from triage.corrections import Correction, CorrectionStore, CorrectionWatcher
from triage.errors import ModelError, StateError, TriageError
from triage.features import prepare
from triage.files import write_atomically
from triage.lists import SenderLists
from triage.message import Message, parse_message
from triage.policy import RELATIONSHIP_PRIOR, Decision, DraftPolicy, SenderContext

log = logging.getLogger(__name__)

POINTER = "current"
BASE = "shipped"  # what the pointer says when the base model is in use
LOCK = ".lock"
_VERSION = re.compile(r"personal-(\d{4,})\.model")
HOLDOUT_FRACTION = 0.2
EXAMPLE_HOLDOUT_EVERY = 4  # a quarter of the examples are held out for the check
TOLERANCE = 0.02  # macro-F1 the candidate may lose on the base holdout


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
        raise ModelError(f"{directory / POINTER} names {name!r}, which is not a personal model; "
                         f"run `triage learn --rollback` or delete the file")
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
            raise LearnBusy(f"a model for {directory.name!r} is being trained right now") \
                from None
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
                meta = model_store.read_metadata(path)[0]
            except ModelError as exc:
                problem = str(exc)
        found.append(Version(number, path, path.name == current, meta, problem))
    return sorted(found, key=lambda v: v.number)


def current_model_path(state_dir: Path, account: str) -> Path | None:
    """The file of the account's current personal model, or None when it uses the base."""
    directory = account_dir(state_dir, account)
    name = read_pointer(directory)
    return directory / name if name else None


@dataclass(frozen=True)
class Rollback:
    previous: str  # the version that was current ("shipped" for the base model)
    now: str       # the version that is current now


def rollback(state_dir: Path, account: str, *, now: datetime | None = None) -> Rollback:
    """Make the next older version current (the base model after the oldest)."""
    directory = account_dir(state_dir, account)
    with locked(directory):
        current = read_pointer(directory)
        if current is None:
            raise TriageError(f"account {account!r} already uses the base model; there is no "
                              f"older version to go back to")
        number = version_number(current) or 0
        older = [v for v in versions(state_dir, account) if v.number < number and not v.problem]
        target = older[-1].name if older else None
        write_pointer(directory, target)
    # The daemon should not retrain at once from the corrections that made the version that
    # was just given up: only new corrections count towards `retrain_after` from here.
    with contextlib.suppress(StateError), _store(state_dir) as store:
        if store is not None:
            store.mark_run(account, store.last_id(account), f"rollback to {target or BASE}",
                           now or datetime.now(UTC))
    return Rollback(current, target or BASE)


@contextlib.contextmanager
def _store(state_dir: Path) -> Iterator[CorrectionStore | None]:
    path = Path(state_dir) / "triage.sqlite3"
    if not path.exists():
        yield None
        return
    store = CorrectionStore(path)
    try:
        yield store
    finally:
        store.close()


# --------------------------------------------------------------------------- learning


def _remove_leftovers(directory: Path) -> None:
    """Temporary files of a training that was killed before its rename (held lock: not ours
    to race with)."""
    for path in directory.glob(".personal-*.model.*"):
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Scores:
    """How a model did on held-out rows."""

    macro_f1: float
    accuracy: float
    n: int
    examples_right: int = 0
    examples: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"macro_f1": round(self.macro_f1, 4), "accuracy": round(self.accuracy, 4),
                "n": self.n, "examples_right": self.examples_right, "examples": self.examples}


@dataclass(frozen=True)
class LearnResult:
    account: str
    status: str  # "saved", "rejected", "nothing"
    message: str
    version: str = ""  # the new version's file name when saved
    previous: str = ""  # what was current before
    examples: int = 0  # corrections and reviews trained on
    corrections: int = 0  # of which corrections
    new: int = 0  # corrections since the last learn run
    reference: Scores | None = None
    candidate: Scores | None = None
    skipped: tuple[str, ...] = ()  # examples that could not be parsed

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account, "status": self.status, "message": self.message,
            "version": self.version, "previous": self.previous, "examples": self.examples,
            "corrections": self.corrections, "new": self.new,
            "reference": self.reference.as_json() if self.reference else None,
            "candidate": self.candidate.as_json() if self.candidate else None,
            "skipped": list(self.skipped),
        }


@dataclass(frozen=True)
class _Examples:
    rows: np.ndarray
    labels: tuple[str, ...]
    keys: tuple[str, ...]
    ids: tuple[int, ...]
    kinds: tuple[str, ...]


def _prepare_examples(examples: Sequence[Correction]) -> tuple[_Examples, tuple[str, ...]]:
    messages: list[Message] = []
    kept: list[Correction] = []
    skipped: list[str] = []
    for example in examples:
        try:
            messages.append(parse_message(example.raw or b""))
            kept.append(example)
        except Exception as exc:  # noqa: BLE001 - MessageParseError, or a parser bug
            skipped.append(f"{example.message_id or example.message_key}: {exc}")
    rows = prepare(messages) if messages else np.empty((0, 0), dtype=object)
    return _Examples(rows, tuple(e.new_label for e in kept), tuple(e.message_key for e in kept),
                     tuple(e.id for e in kept), tuple(e.kind for e in kept)), tuple(skipped)


def _held_out(keys: Sequence[str]) -> set[int]:
    """Indices of the examples held out for the check: a quarter, by a hash of the message."""
    count = len(keys) // EXAMPLE_HOLDOUT_EVERY
    order = sorted(range(len(keys)), key=lambda i: hashlib.sha256(keys[i].encode()).digest())
    return set(order[:count])


def _base_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices of the base rows: a stratified 20 %, the same every time."""
    indices = np.arange(len(labels))
    counts = {label: int((labels == label).sum()) for label in set(labels.tolist())}
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=HOLDOUT_FRACTION, random_state=0)
    if min(counts.values()) >= 2 and len(counts) > 1:
        train, test = next(splitter.split(indices, labels))
        return np.sort(train), np.sort(test)
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(indices)
    cut = max(1, int(len(indices) * HOLDOUT_FRACTION))
    return np.sort(shuffled[cut:]), np.sort(shuffled[:cut])


def _training_set(base: model_store.TrainingSet, base_index: np.ndarray, examples: _Examples,
                  example_index: Sequence[int], weight: float) -> model_store.TrainingSet:
    base_weights = list(base.weights) if base.weights else [1.0] * len(base.labels)
    rows = [base.rows[base_index]]
    if len(example_index):
        rows.append(examples.rows[list(example_index)])
    return model_store.TrainingSet(
        rows=np.concatenate(rows) if len(rows) > 1 else rows[0],
        labels=tuple(base.labels[i] for i in base_index)
        + tuple(examples.labels[i] for i in example_index),
        offenses=tuple(base.offenses[i] for i in base_index)
        + tuple(() for _ in example_index),
        weights=tuple(base_weights[i] for i in base_index)
        + tuple(weight if examples.kinds[i] == "correction" else 1.0 for i in example_index),
    )


def predict_rows(model: model_store.Model, rows: np.ndarray) -> list[str]:
    """The class of prepared rows, with the policy's weighing of relationship (sender context
    and list mail need the message, which rows no longer have)."""
    if not len(rows):
        return []
    proba = model.pipeline.predict_proba(rows)
    classes = [str(c) for c in model.pipeline.classes_]
    weights = np.array([RELATIONSHIP_PRIOR if c == "relationship" else 1.0 for c in classes])
    return [classes[i] for i in np.argmax(proba * weights, axis=1)]


def _score(model: model_store.Model, base_rows: np.ndarray, base_labels: Sequence[str],
           example_rows: np.ndarray, example_labels: Sequence[str]) -> Scores:
    predicted = predict_rows(model, base_rows)
    macro = float(f1_score(list(base_labels), predicted, labels=list(model_store.LABELS),
                           average="macro", zero_division=0))
    accuracy = float(np.mean([p == y for p, y in zip(predicted, base_labels, strict=True)])) \
        if len(base_labels) else 0.0
    right = sum(p == y for p, y in zip(predict_rows(model, example_rows), example_labels,
                                       strict=True))
    return Scores(macro, accuracy, len(base_labels), right, len(example_labels))


def verdict(reference: Scores, candidate: Scores) -> tuple[bool, str]:
    """Whether the candidate is not worse than the reference, and why (not)."""
    if candidate.macro_f1 < reference.macro_f1 - TOLERANCE:
        return False, (f"macro-F1 on held-out training mail would drop from "
                       f"{reference.macro_f1:.3f} to {candidate.macro_f1:.3f}")
    if candidate.examples_right < reference.examples_right:
        return False, (f"it gets fewer held-out corrections right ({candidate.examples_right} "
                       f"of {candidate.examples}, now {reference.examples_right})")
    return True, (f"macro-F1 on held-out training mail {reference.macro_f1:.3f} -> "
                  f"{candidate.macro_f1:.3f}; held-out corrections right "
                  f"{reference.examples_right} -> {candidate.examples_right} of "
                  f"{candidate.examples}")


def base_model_path(learning: LearningConfig | None = None) -> Path:
    return (learning.base_model if learning and learning.base_model else None) \
        or shipped_model_path()


def learn(
    state_dir: Path,
    account: str,
    *,
    base_path: Path | None = None,
    weight: float = 5.0,
    force: bool = False,
    wait: bool = True,
    now: datetime | None = None,
) -> LearnResult:
    """Train, check and (when not worse) save a new personal model version for `account`."""
    directory = account_dir(state_dir, account)
    base_path = base_path or shipped_model_path()
    with locked(directory, wait=wait), _store(state_dir) as store:
        now = now or datetime.now(UTC)
        _remove_leftovers(directory)
        previous = read_pointer(directory) or BASE
        if store is None:
            return LearnResult(account, "nothing", "no corrections yet: triage has not run on "
                               "this state directory", previous=previous)
        last_id = store.last_id(account)
        new = store.since_learn(account)
        examples = store.examples(account)
        n_corrections = sum(e.kind == "correction" for e in examples)
        if not examples:
            return LearnResult(account, "nothing", "no corrections yet: change a triage label "
                               "in your mail client while `triage run` runs",
                               previous=previous)
        if not force and store.last_run(account) >= last_id:
            return LearnResult(account, "nothing", "no new corrections since the last "
                               "`triage learn` (--force trains again anyway)",
                               previous=previous, examples=len(examples),
                               corrections=n_corrections)
        current_path = directory / previous if previous != BASE else None
        through = 0
        if current_path is not None:
            try:
                through = int(model_store.read_metadata(current_path)[0]
                              .get("personal", {}).get("corrections_through_id", 0))
            except ModelError as exc:
                log.warning("%s; comparing with the base model instead", exc)
        if not base_path.exists():
            raise ModelError(f"no base model at {base_path}: personal models are built on "
                             f"the shipped model's training data")
        base = model_store.load(base_path)
        base_set = base.training_set
        if base_set is None or not len(base_set.labels):
            raise ModelError(f"{base_path} carries no training rows, so no personal model "
                             f"can be built on it; retrain it with `triage train`")
        prepared, skipped = _prepare_examples(examples)
        if not prepared.labels:
            store.mark_run(account, last_id, "nothing usable", now)
            return LearnResult(account, "nothing", "no correction could be read again",
                               previous=previous, skipped=skipped)
        base_labels = np.asarray(base_set.labels)
        train_index, test_index = _base_split(base_labels)
        held = _held_out(prepared.keys)
        # The reference learns from what the current model had: examples up to `through`,
        # as they stood then (a message corrected twice counts with its older label).
        then = {e.message_key: e.new_label for e in store.examples(account, through_id=through)} \
            if through else {}
        reference_examples = _Examples(
            prepared.rows, tuple(then.get(k, "") for k in prepared.keys), prepared.keys,
            prepared.ids, prepared.kinds)
        in_reference = [i for i in range(len(prepared.keys))
                        if i not in held and prepared.keys[i] in then]
        in_candidate = [i for i in range(len(prepared.keys)) if i not in held]
        held_list = sorted(held)
        held_rows = prepared.rows[held_list] if held_list else prepared.rows[:0]
        held_labels = [prepared.labels[i] for i in held_list]
        test_rows, test_labels = base_set.rows[test_index], list(base_labels[test_index])

        reference_score = candidate_score = None
        if not force:
            log.info("%s: checking a new model on %d held-out training messages and %d "
                     "held-out corrections", account, len(test_index), len(held_list))
            reference = model_store.train_rows(_training_set(
                base_set, train_index, reference_examples, in_reference, weight))
            reference_score = _score(reference, test_rows, test_labels, held_rows, held_labels)
            del reference
            candidate = model_store.train_rows(_training_set(
                base_set, train_index, prepared, in_candidate, weight))
            candidate_score = _score(candidate, test_rows, test_labels, held_rows, held_labels)
            del candidate
            ok, why = verdict(reference_score, candidate_score)
            if not ok:
                store.mark_run(account, last_id, f"rejected: {why}", now)
                return LearnResult(account, "rejected", f"not saved: {why}", previous=previous,
                                   examples=len(prepared.labels), corrections=n_corrections,
                                   new=new, reference=reference_score,
                                   candidate=candidate_score, skipped=skipped)
        else:
            why = "saved without the check (--force)"
        everything = list(range(len(prepared.keys)))
        model = model_store.train_rows(_training_set(
            base_set, np.arange(len(base_labels)), prepared, everything, weight))
        existing = [v.number for v in versions(state_dir, account, metadata=False)]
        number = max(existing, default=0) + 1
        name = version_name(number)
        model.metadata.update(
            version=f"personal-{account}-{number:04d}",
            training_messages=len(base_labels) + len(everything),
            personal={
                "account": account,
                "number": number,
                "base_model": str(base_path),
                "base_version": base.version,
                "examples": len(everything),
                "corrections": n_corrections,
                "corrections_through_id": last_id,
                "correction_weight": weight,
                "trained_at": now.isoformat(timespec="seconds"),
                "check": {
                    "reference": reference_score.as_json() if reference_score else None,
                    "candidate": candidate_score.as_json() if candidate_score else None,
                    "verdict": why,
                },
            },
        )
        model_store.save(model, directory / name)
        write_pointer(directory, name)
        store.mark_run(account, last_id, f"saved {name}", now)
        return LearnResult(account, "saved", f"saved {name}: {why}", version=name,
                           previous=previous, examples=len(everything),
                           corrections=n_corrections, new=new, reference=reference_score,
                           candidate=candidate_score, skipped=skipped)


# --------------------------------------------------------------------------- classifying


def draft_policy(config: Config) -> DraftPolicy:
    return DraftPolicy(enabled=config.drafts.enabled, min_confidence=config.drafts.min_confidence)


class AccountClassifier(Classifier):
    """One account's classifier: its current personal model (or the base model) plus the
    config's lists. Before every batch it looks at the `current` pointer (one stat) and
    switches models when it moved, so the daemon picks up `triage learn` without a restart.

    It *is* a `Classifier`: the loaded model's fitted state is shared, not copied, so an
    account without a personal model costs no extra memory.
    """

    def __init__(self, base: Classifier, *, lists: SenderLists | None = None,
                 state_dir: Path | None = None, account: str = "") -> None:
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
                log.info("account %s: classifying with the base model %s", self._account_name,
                         self.version)
                return True
            try:
                loaded = Classifier(model_store.load(self._account_dir / name),
                                    self._account_base.policy)
            except (ModelError, OSError) as exc:
                log.error("account %s: cannot use the personal model %s (%s); keeping %s",
                          self._account_name, name, exc, self.version)
                return False
            first = not self._account_loaded and self._account_seen_once is False
            self._adopt(loaded)
            self._account_loaded = name
            log.log(logging.DEBUG if first else logging.INFO,
                    "account %s: classifying with the personal model %s", self._account_name,
                    self.version)
            return True

    def classify(self, messages: Sequence[Message],
                 contexts: Sequence[SenderContext] | None = None) -> list[Decision]:
        self.refresh()
        decisions = super().classify(messages, contexts)
        return self._account_lists.apply(messages, decisions)


def account_classifier(config: Config, account: str | None, *,
                       base: Classifier | None = None) -> AccountClassifier:
    """The classifier `triage run`, `classify --config` and `explain` use for an account (with
    `account` None: the base model and the lists only)."""
    if base is None:
        path = base_model_path(config.learning)
        if not path.exists():
            raise ModelError(f"no model at {path}; build one with `triage train`")
        base = Classifier.load(path, policy=draft_policy(config))
    return AccountClassifier(base, lists=SenderLists(config.lists),
                             state_dir=config.state_dir if account else None,
                             account=account or "")


# --------------------------------------------------------------------------- the daemon's part


class AutoLearner:
    """Retrains an account's model in the background once `retrain_after` new corrections
    have come in. One training at a time per account (a lock file across processes); the
    daemon's `AccountClassifier` picks the new version up before its next batch."""

    _threads: dict[tuple[str, str], threading.Thread] = {}
    _threads_lock = threading.Lock()

    def __init__(self, state_dir: Path, account: str, learning: LearningConfig) -> None:
        self.state_dir = Path(state_dir)
        self.account = account
        self.learning = learning
        self.last_result: LearnResult | None = None

    def due(self, store: CorrectionStore) -> bool:
        after = self.learning.retrain_after
        return after > 0 and store.since_learn(self.account) >= after

    def maybe_start(self, store: CorrectionStore) -> threading.Thread | None:
        """Start a retraining thread when enough new corrections came in."""
        if not self.due(store):
            return None
        key = (str(self.state_dir), self.account)
        with self._threads_lock:
            running = self._threads.get(key)
            if running is not None and running.is_alive():
                return None
            thread = threading.Thread(target=self._run, name=f"triage-learn-{self.account}",
                                      daemon=True)
            self._threads[key] = thread
            thread.start()
            return thread

    def _run(self) -> None:
        log.info("account %s: %d new corrections; training a personal model", self.account,
                 self.learning.retrain_after)
        try:
            result = learn(self.state_dir, self.account,
                           base_path=base_model_path(self.learning),
                           weight=self.learning.correction_weight, wait=False)
        except LearnBusy as exc:
            log.info("%s; not training again", exc)
            return
        except Exception as exc:  # noqa: BLE001 - a failed retrain must not stop the daemon
            log.error("account %s: training a personal model failed: %s", self.account, exc)
            with contextlib.suppress(Exception), _store(self.state_dir) as store:
                if store is not None:
                    store.mark_run(self.account, store.last_id(self.account),
                                   f"failed: {exc}", datetime.now(UTC))
            return
        self.last_result = result
        log.info("account %s: %s", self.account, result.message)


class Personal:
    """Everything `triage run` takes from this module, per account: the classifier (personal
    model, lists, pointer checks), the corrections watcher, and the background retraining.

    With `personal_models` false (`triage run --model FILE`) every account classifies with the
    given model and lists only; corrections are still recorded, but nothing is retrained.
    """

    def __init__(self, config: Config, base: Classifier, *, personal_models: bool = True,
                 state_dir: Path | None = None) -> None:
        self.config = config
        self.base = base
        self.personal_models = personal_models
        self.state_dir = Path(state_dir or config.state_dir)
        self._classifiers: dict[str, AccountClassifier] = {}
        self._lock = threading.Lock()

    def classifier(self, account: str) -> AccountClassifier:
        """One per account, shared by its folder workers."""
        with self._lock:
            if account not in self._classifiers:
                self._classifiers[account] = AccountClassifier(
                    self.base, lists=SenderLists(self.config.lists),
                    state_dir=self.state_dir if self.personal_models else None,
                    account=account if self.personal_models else "")
            return self._classifiers[account]

    def watcher(self, account: str) -> CorrectionWatcher:
        auto = AutoLearner(self.state_dir, account, self.config.learning) \
            if self.personal_models else None
        return CorrectionWatcher(
            self.state_dir / "triage.sqlite3", account,
            watch_days=self.config.learning.watch_days,
            on_recorded=auto.maybe_start if auto is not None else None)


# --------------------------------------------------------------------------- `triage status`


def account_report(config: Config, account: str, store: CorrectionStore | None) -> dict[str, Any]:
    """Corrections, the model in use and the shadow-mode review numbers of one account."""
    try:
        model = read_pointer(account_dir(config.state_dir, account)) or BASE
    except ModelError as exc:
        model = f"? ({exc})"
    mode = next((a.mode for a in config.accounts if a.name == account), config.mode)
    report: dict[str, Any] = {"mode": mode, "model": model, "corrections": 0,
                              "corrections_since_learn": 0, "review": {},
                              "review_target": config.learning.review_target}
    if store is None:
        return report
    summary = store.review_summary(account)
    report["corrections"] = summary.corrections
    report["corrections_since_learn"] = summary.since_learn
    report["review"] = {
        label: {"reviewed": summary.reviewed[label], "right": summary.right[label],
                "precision": None if summary.precision(label) is None
                else round(summary.precision(label) or 0.0, 3)}
        for label in ("relationship", "solicitation")
    }
    return report


def report_lines(report: dict[str, Any]) -> list[str]:
    """The lines `triage status` prints for `account_report`."""
    lines = [f"  model:         {report['model']}"
             + ("" if report["model"] == BASE else " (personal; `triage learn --rollback` "
                "goes back)"),
             f"  corrections:   {report['corrections']} ({report['corrections_since_learn']} "
             f"since the last `triage learn`)"]
    review = report["review"]
    reviewed = {label: info["reviewed"] for label, info in review.items()}
    if report["mode"] == "shadow" or any(reviewed.values()):
        parts = []
        for label, info in review.items():
            if info["reviewed"]:
                parts.append(f"{label} {info['right']}/{info['reviewed']} right "
                             f"(precision {info['precision']:.2f})")
            else:
                parts.append(f"{label} none reviewed yet")
        lines.append(f"  reviewed:      {'; '.join(parts)}")
        target = report["review_target"]
        if report["mode"] == "shadow":
            if reviewed and all(n >= target for n in reviewed.values()):
                lines.append(f"  shadow mode:   {target}+ reviews per class: if those "
                             f"precisions are good enough for you, set mode = \"active\"")
            else:
                lines.append(f"  shadow mode:   only the review label is applied; review "
                             f"{target} per class before switching to mode = \"active\"")
    return lines
