"""Making a personal model: the shipped training data plus the user's corrections.

Versions, the `current` pointer and how they are used are triage.store.personal's; this module makes
a new version (`learn`):

1. The examples: the latest correction or shadow-mode review of each message
   (`triage.store.corrections`), parsed from the bytes the daemon kept and prepared with the same
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
   then the `current` pointer is replaced the same way. Old versions stay; `rollback`
   (triage.store.personal) points `current` at the next older version (and finally at the base
   model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedShuffleSplit

from triage.decide.policy import CLASS_PRIORS
from triage.errors import ModelError, TriageError
from triage.message.parse import Message, parse_message
from triage.model import modelfile
from triage.model.classifier import shipped_model_path
from triage.model.features import prepare
from triage.store.corrections import Correction
from triage.store.personal import (
    BASE,
    LearnBusy,
    account_dir,
    base_model_path,
    correction_store,
    locked,
    prune_versions,
    read_pointer,
    version_name,
    versions,
    write_pointer,
)
from triage.training import pipeline as model_store

log = logging.getLogger(__name__)

HOLDOUT_FRACTION = 0.2
EXAMPLE_HOLDOUT_EVERY = 4  # a quarter of the examples are held out for the check
TOLERANCE = 0.02  # macro-F1 the candidate may lose on the base holdout


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
        return {
            "macro_f1": round(self.macro_f1, 4),
            "accuracy": round(self.accuracy, 4),
            "n": self.n,
            "examples_right": self.examples_right,
            "examples": self.examples,
        }


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
            "account": self.account,
            "status": self.status,
            "message": self.message,
            "version": self.version,
            "previous": self.previous,
            "examples": self.examples,
            "corrections": self.corrections,
            "new": self.new,
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
    return _Examples(
        rows,
        tuple(e.new_label for e in kept),
        tuple(e.message_key for e in kept),
        tuple(e.id for e in kept),
        tuple(e.kind for e in kept),
    ), tuple(skipped)


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


def _training_set(
    base: model_store.TrainingSet,
    base_index: np.ndarray,
    examples: _Examples,
    example_index: Sequence[int],
    weight: float,
) -> model_store.TrainingSet:
    base_weights = list(base.weights) if base.weights else [1.0] * len(base.labels)
    rows = [base.rows[base_index]]
    if len(example_index):
        rows.append(examples.rows[list(example_index)])
    return model_store.TrainingSet(
        rows=np.concatenate(rows) if len(rows) > 1 else rows[0],
        labels=tuple(base.labels[i] for i in base_index)
        + tuple(examples.labels[i] for i in example_index),
        offenses=tuple(base.offenses[i] for i in base_index) + tuple(() for _ in example_index),
        weights=tuple(base_weights[i] for i in base_index)
        + tuple(weight if examples.kinds[i] == "correction" else 1.0 for i in example_index),
    )


def predict_rows(model: model_store.Model, rows: np.ndarray) -> list[str]:
    """The class of prepared rows, with the policy's class priors (sender context and list
    mail need the message, which rows no longer have)."""
    if not len(rows):
        return []
    proba = model.pipeline.predict_proba(rows)
    classes = [str(c) for c in model.pipeline.classes_]
    weights = np.array([CLASS_PRIORS.get(c, 1.0) for c in classes])
    return [classes[i] for i in np.argmax(proba * weights, axis=1)]


def _score(
    model: model_store.Model,
    base_rows: np.ndarray,
    base_labels: Sequence[str],
    example_rows: np.ndarray,
    example_labels: Sequence[str],
) -> Scores:
    predicted = predict_rows(model, base_rows)
    macro = float(
        f1_score(
            list(base_labels),
            predicted,
            labels=list(model_store.LABELS),
            average="macro",
            zero_division=0,
        )
    )
    accuracy = (
        float(np.mean([p == y for p, y in zip(predicted, base_labels, strict=True)]))
        if len(base_labels)
        else 0.0
    )
    right = sum(
        p == y for p, y in zip(predict_rows(model, example_rows), example_labels, strict=True)
    )
    return Scores(macro, accuracy, len(base_labels), right, len(example_labels))


def verdict(reference: Scores, candidate: Scores) -> tuple[bool, str]:
    """Whether the candidate is not worse than the reference, and why (not)."""
    if candidate.macro_f1 < reference.macro_f1 - TOLERANCE:
        return False, (
            f"macro-F1 on held-out training mail would drop from "
            f"{reference.macro_f1:.3f} to {candidate.macro_f1:.3f}"
        )
    if candidate.examples_right < reference.examples_right:
        return False, (
            f"it gets fewer held-out corrections right ({candidate.examples_right} "
            f"of {candidate.examples}, now {reference.examples_right})"
        )
    return True, (
        f"macro-F1 on held-out training mail {reference.macro_f1:.3f} -> "
        f"{candidate.macro_f1:.3f}; held-out corrections right "
        f"{reference.examples_right} -> {candidate.examples_right} of "
        f"{candidate.examples}"
    )


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
    base_path = base_path or base_model_path()
    with locked(directory, wait=wait), correction_store(state_dir) as store:
        now = now or datetime.now(UTC)
        _remove_leftovers(directory)
        previous = read_pointer(directory) or BASE
        if store is None:
            return LearnResult(
                account,
                "nothing",
                "no corrections yet: triage has not run on this state directory",
                previous=previous,
            )
        last_id = store.last_id(account)
        new = store.since_learn(account)
        examples = store.examples(account)
        n_corrections = sum(e.kind == "correction" for e in examples)
        if not examples:
            return LearnResult(
                account,
                "nothing",
                "no corrections yet: change a triage label "
                "in your mail client while `triage run` runs",
                previous=previous,
            )
        if not force and store.last_run(account) >= last_id:
            return LearnResult(
                account,
                "nothing",
                "no new corrections since the last `triage learn` (--force trains again anyway)",
                previous=previous,
                examples=len(examples),
                corrections=n_corrections,
            )
        current_path = directory / previous if previous != BASE else None
        through = 0
        if current_path is not None:
            try:
                through = int(
                    modelfile.read_metadata(current_path)
                    .get("personal", {})
                    .get("corrections_through_id", 0)
                )
            except ModelError as exc:
                log.warning("%s; comparing with the base model instead", exc)
        if not base_path.exists():
            raise ModelError(
                f"no base model at {base_path}: personal models are built on "
                f"the shipped model's training data"
            )
        base = model_store.load(
            base_path, modelfile.trusted_digests(state_dir, shipped_model_path())
        )
        base_set = base.training_set
        if base_set is None or not len(base_set.labels):
            raise ModelError(
                f"{base_path} carries no training rows, so no personal model "
                f"can be built on it; retrain it with `triage train`"
            )
        prepared, skipped = _prepare_examples(examples)
        if not prepared.labels:
            store.mark_run(account, last_id, "nothing usable", now)
            return LearnResult(
                account,
                "nothing",
                "no correction could be read again",
                previous=previous,
                skipped=skipped,
            )
        base_labels = np.asarray(base_set.labels)
        train_index, test_index = _base_split(base_labels)
        held = _held_out(prepared.keys)
        # The reference learns from what the current model had: examples up to `through`,
        # as they stood then (a message corrected twice counts with its older label).
        then = (
            {e.message_key: e.new_label for e in store.examples(account, through_id=through)}
            if through
            else {}
        )
        reference_examples = _Examples(
            prepared.rows,
            tuple(then.get(k, "") for k in prepared.keys),
            prepared.keys,
            prepared.ids,
            prepared.kinds,
        )
        in_reference = [
            i for i in range(len(prepared.keys)) if i not in held and prepared.keys[i] in then
        ]
        in_candidate = [i for i in range(len(prepared.keys)) if i not in held]
        held_list = sorted(held)
        held_rows = prepared.rows[held_list] if held_list else prepared.rows[:0]
        held_labels = [prepared.labels[i] for i in held_list]
        test_rows, test_labels = base_set.rows[test_index], list(base_labels[test_index])

        reference_score = candidate_score = None
        if not force:
            log.info(
                "%s: checking a new model on %d held-out training messages and %d "
                "held-out corrections",
                account,
                len(test_index),
                len(held_list),
            )
            reference = model_store.train_rows(
                _training_set(base_set, train_index, reference_examples, in_reference, weight)
            )
            reference_score = _score(reference, test_rows, test_labels, held_rows, held_labels)
            del reference
            candidate = model_store.train_rows(
                _training_set(base_set, train_index, prepared, in_candidate, weight)
            )
            candidate_score = _score(candidate, test_rows, test_labels, held_rows, held_labels)
            del candidate
            ok, why = verdict(reference_score, candidate_score)
            if not ok:
                store.mark_run(account, last_id, f"rejected: {why}", now)
                return LearnResult(
                    account,
                    "rejected",
                    f"not saved: {why}",
                    previous=previous,
                    examples=len(prepared.labels),
                    corrections=n_corrections,
                    new=new,
                    reference=reference_score,
                    candidate=candidate_score,
                    skipped=skipped,
                )
        else:
            why = "saved without the check (--force)"
        everything = list(range(len(prepared.keys)))
        model = model_store.train_rows(
            _training_set(base_set, np.arange(len(base_labels)), prepared, everything, weight)
        )
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
        for old in prune_versions(state_dir, account):
            log.info("%s: deleted the old version %s", account, old)
        store.mark_run(account, last_id, f"saved {name}", now)
        return LearnResult(
            account,
            "saved",
            f"saved {name}: {why}",
            version=name,
            previous=previous,
            examples=len(everything),
            corrections=n_corrections,
            new=new,
            reference=reference_score,
            candidate=candidate_score,
            skipped=skipped,
        )


# --------------------------------------------------------------------------- the daemon's child


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m triage.training.learning STATE_DIR ACCOUNT BASE_MODEL WEIGHT`: one retraining as
    the daemon starts it (triage.daemon.retraining.AutoLearner), never waiting for another trainer's
    lock. Logs go to stderr; the outcome is one JSON line on stdout, with a status of "saved",
    "rejected", "nothing", "busy" or "failed"."""
    parser = argparse.ArgumentParser(prog="python -m triage.training.learning")
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("account")
    parser.add_argument("base_model", type=Path)
    parser.add_argument("weight", type=float)
    args = parser.parse_args(argv)
    os.nice(10)  # the daemon that started this keeps labelling mail meanwhile
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        result = learn(
            args.state_dir, args.account, base_path=args.base_model, weight=args.weight, wait=False
        )
        outcome = {"status": result.status, "message": result.message}
    except LearnBusy as exc:
        outcome = {"status": "busy", "message": str(exc)}
    except TriageError as exc:
        outcome = {"status": "failed", "message": str(exc)}
    print(json.dumps(outcome), flush=True)
    return 0 if outcome["status"] != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
