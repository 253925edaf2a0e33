"""Which worst-offender behaviours a solicitation shows, and whether it shows any at all.

Two heads over the same features the class model uses, restricted to word n-grams and named
signals (character n-grams add little here and would make training a hundred times slower):

- a binary head, "is this a worst offender?", trained on every message, which decides whether
  there is an offense, and so whether a draft is possible; pooling all offenses gives it several
  times more examples than any single offense has (in cross-validation it finds about 87% of
  the worst offenders, against 79% for "any per-offense head fired");
- a head per offense code, trained on solicitation, which only names what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MultiLabelBinarizer

OFFENSES = (
    "introduction-ask",
    "network-harvesting",
    "referral-bounty",
    "mlm-recruiting",
    "what-can-you-do-for-me",
    "pitch-on-introduction",
)


def _logistic() -> LogisticRegression:
    return LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear", random_state=0)


def _probability_of_true(estimator: LogisticRegression | DummyClassifier,
                         x: sparse.csr_matrix) -> np.ndarray:
    """P(True); an estimator that only ever saw False (a tiny corpus) says 0."""
    classes = list(estimator.classes_)
    if True not in classes:
        return np.zeros(x.shape[0])
    return estimator.predict_proba(x)[:, classes.index(True)]


@dataclass
class OffenseScores:
    worst: float                 # probability that this is a worst offender
    by_offense: dict[str, float] # probability of each offense code


class OffenseHead:
    """The binary and per-offense heads, and the feature columns they read."""

    def __init__(self, columns: np.ndarray) -> None:
        self.columns = columns
        self.worst: LogisticRegression | DummyClassifier = _logistic()
        self.each: dict[str, LogisticRegression | DummyClassifier] = {}

    def fit(self, x: sparse.csr_matrix, offenses: Sequence[Sequence[str]],
            solicitation: np.ndarray) -> OffenseHead:
        """`offenses` for every row of `x`; `solicitation` marks the solicitation rows."""
        x = x[:, self.columns]
        y = MultiLabelBinarizer(classes=list(OFFENSES)).fit_transform(offenses)
        # The binary head sees every message, so it also learns how a friend asking for one
        # introduction differs from a stranger asking for many.
        worst = y.any(axis=1)
        if len(set(worst)) < 2:  # a tiny corpus: every message, or none, is a worst offender
            self.worst = DummyClassifier(strategy="prior")
        self.worst.fit(x, worst)
        # Naming offenses is only asked of solicitation. An offense with no example here gets
        # no estimator and is predicted absent.
        x_solicitation, y_solicitation = x[solicitation], y[solicitation]
        self.each = {}
        for k, code in enumerate(OFFENSES):
            column = y_solicitation[:, k]
            if column.any():
                estimator = _logistic() if not column.all() else DummyClassifier(strategy="prior")
                self.each[code] = estimator.fit(x_solicitation, column)
        return self

    def predict(self, x: sparse.csr_matrix) -> list[OffenseScores]:
        x = x[:, self.columns]
        worst = _probability_of_true(self.worst, x)
        each = np.zeros((x.shape[0], len(OFFENSES)))
        for k, code in enumerate(OFFENSES):
            if code in self.each:
                each[:, k] = _probability_of_true(self.each[code], x)
        return [
            OffenseScores(float(w), {code: float(p) for code, p in zip(OFFENSES, row,
                                                                       strict=True)})
            for w, row in zip(worst, each, strict=True)
        ]
