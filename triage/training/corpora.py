"""Labelled corpora in, trained models and honest metrics out.

Cross-validation runs the same `Classifier` the product runs (policy and drafts included), so the
numbers are about what users get. Two splits are reported: ordinary stratified folds, and folds
that hold out whole subtypes (every check-in, every MLM pitch...), which says how the model does on
kinds of mail it has never seen: the better guess at how it does on other people's mail.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, StratifiedKFold

from triage.decide.policy import Decision, DraftPolicy
from triage.errors import TriageError
from triage.message.parse import Message, parse_message
from triage.model.classifier import Classifier
from triage.model.features import prepare
from triage.training import pipeline as model_store

LABELS = model_store.LABELS
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledSet:
    paths: tuple[str, ...]
    messages: tuple[Message, ...]
    labels: tuple[str, ...]
    offenses: tuple[tuple[str, ...], ...]
    groups: tuple[str, ...]  # subtype, or the class folder name
    writers: tuple[str, ...]  # who wrote it: the file name up to its first "-" (training_data
    # names every record after its writer), or the class folder name
    fingerprint: str  # sha256 over paths, labels and bytes

    def __len__(self) -> int:
        return len(self.messages)


def _fingerprint(items: Sequence[tuple[str, str, bytes]]) -> str:
    digest = hashlib.sha256()
    for path, label, raw in items:
        digest.update(f"{path}\0{label}\0".encode())
        digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest()


_Row = tuple[str, str, tuple[str, ...], str]  # path, label, offenses, subtype


def _labelled_rows(directory: Path) -> list[_Row]:
    """labels.csv (`path,label,offenses,subtype`), or one subfolder per class; sorted."""
    rows: list[_Row] = []
    labels_csv = directory / "labels.csv"
    if labels_csv.exists():
        with labels_csv.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                offenses = tuple(o for o in (row.get("offenses") or "").split(";") if o)
                rows.append((row["path"], row["label"], offenses, row.get("subtype") or ""))
    else:
        for label in LABELS:
            for path in sorted((directory / label).rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    rows.append((str(path.relative_to(directory)), label, (), label))
    if not rows:
        raise TriageError(f"{directory}: no labels.csv and no {'/'.join(LABELS)} subfolders")
    return sorted(rows)


def load_labelled(directory: Path) -> LabelledSet:
    """A corpus with labels.csv (`path,label,offenses,subtype`), or one subfolder per class."""
    rows = _labelled_rows(directory)
    raws = [(directory / path).read_bytes() for path, _l, _o, _g in rows]
    by_folder = not (directory / "labels.csv").exists()
    return LabelledSet(
        paths=tuple(r[0] for r in rows),
        messages=tuple(parse_message(raw) for raw in raws),
        labels=tuple(r[1] for r in rows),
        offenses=tuple(r[2] for r in rows),
        groups=tuple(r[3] for r in rows),
        writers=tuple(r[1] if by_folder else Path(r[0]).name.split("-", 1)[0] for r in rows),
        fingerprint=_fingerprint([(r[0], r[1], raw) for r, raw in zip(rows, raws, strict=True)]),
    )


def load_training_set(directory: Path) -> tuple[model_store.TrainingSet, str]:
    """What fitting needs of a corpus, and its fingerprint, parsing one message at a time:
    holding every parsed message at once was a sixth of training's peak memory."""
    rows = _labelled_rows(directory)
    fingerprint = _fingerprint([(r[0], r[1], (directory / r[0]).read_bytes()) for r in rows])
    parsed = (parse_message((directory / path).read_bytes()) for path, _l, _o, _g in rows)
    training_set = model_store.TrainingSet(
        prepare(parsed), tuple(r[1] for r in rows), tuple(r[2] for r in rows)
    )
    return training_set, fingerprint


def fit(data: LabelledSet, sample_weight: Sequence[float] | None = None) -> model_store.Model:
    return model_store.train(data.messages, data.labels, data.offenses, sample_weight)


def metrics(
    labels: Sequence[str],
    offenses: Sequence[Sequence[str]],
    decisions: Sequence[Decision],
    platform: Sequence[bool] = (),
) -> dict[str, Any]:
    """Per-class precision/recall/F1, confusion matrix and the product's own safety numbers.

    `platform` marks platform notifications, which the policy never drafts (a reply would go to
    a no-reply address): the drafted share is also reported over the draftable offenders.
    """
    predicted = [d.label for d in decisions]
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=list(LABELS), zero_division=0
    )
    networking = [i for i, y in enumerate(labels) if y != "other"]
    net_f1 = precision_recall_fscore_support(
        [labels[i] for i in networking],
        [predicted[i] for i in networking],
        labels=["relationship", "solicitation"],
        average="macro",
        zero_division=0,
    )[2]
    relationship = [i for i, y in enumerate(labels) if y == "relationship"]
    worst = [i for i, o in enumerate(offenses) if o]
    draftable = [i for i in worst if not (platform and platform[i])]
    innocent = [i for i, y in enumerate(labels) if y != "solicitation"]
    return {
        "n": len(labels),
        "per_class": {
            label: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(LABELS, precision, recall, f1, support, strict=True)
        },
        "macro_f1": round(float(np.mean(f1)), 4),
        "accuracy": round(
            float(np.mean([p == y for p, y in zip(predicted, labels, strict=True)])), 4
        ),
        "networking_macro_f1": round(float(net_f1), 4),
        "relationship_called_solicitation": round(
            sum(predicted[i] == "solicitation" for i in relationship) / max(len(relationship), 1), 4
        ),
        "worst_offenders_drafted": round(
            sum(decisions[i].draft for i in worst) / max(len(worst), 1), 4
        ),
        "draftable_worst_offenders_drafted": round(
            sum(decisions[i].draft for i in draftable) / max(len(draftable), 1), 4
        ),
        "drafts_on_relationship_or_other": sum(decisions[i].draft for i in innocent),
        "confusion_matrix": {
            "labels": list(LABELS),
            "rows_true_columns_predicted": confusion_matrix(
                labels, predicted, labels=list(LABELS)
            ).tolist(),
        },
    }


def cross_validate(
    data: LabelledSet,
    held_out: str | None = None,
    folds: int = 5,
    policy: DraftPolicy | None = None,
) -> tuple[dict[str, Any], list[Decision]]:
    """Out-of-fold decisions for every message and the metrics computed from them."""
    y = np.asarray(data.labels)
    if held_out:  # "subtype" or "writer": every message is judged by a model that saw none
        groups = {"subtype": data.groups, "writer": data.writers}[held_out]
        splits = GroupKFold(n_splits=folds).split(y, y, groups=np.asarray(groups))
    else:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0).split(y, y)
    rows = prepare(data.messages)
    decisions: list[Decision | None] = [None] * len(data)
    for fold, (train_index, test_index) in enumerate(splits, start=1):
        log.info(
            "cross-validation fold %d of %d (%d messages held out)", fold, folds, len(test_index)
        )
        fold_model = model_store.train_rows(
            model_store.TrainingSet(
                rows[train_index],
                tuple(y[train_index]),
                tuple(data.offenses[i] for i in train_index),
            )
        )
        fold_decisions = Classifier.of(fold_model, policy).classify(
            [data.messages[i] for i in test_index]
        )
        for i, decision in zip(test_index, fold_decisions, strict=True):
            decisions[i] = decision
    done = [d for d in decisions if d is not None]
    return metrics(data.labels, data.offenses, done, platform_flags(data)), done


def platform_flags(data: LabelledSet) -> list[bool]:
    return [bool(m.platform) for m in data.messages]


def default_data_dir() -> Path:
    """training_data/ in the current directory, else the one in this source checkout; a
    TriageError saying so when neither exists (a pip-installed triage ships no corpus)."""
    for candidate in (
        Path.cwd() / "training_data",
        Path(__file__).resolve().parents[2] / "training_data",
    ):
        if (candidate / "labels.csv").exists():
            return candidate
    raise TriageError(
        "no training data found: the labelled corpus is training_data/ in a "
        "checkout of the triage repository; run this there, or pass --data DIR"
    )
