"""Which worst-offender behaviours a solicitation shows, and whether it shows any at all.

Two heads over the same features the class model uses, restricted to word n-grams and named
signals (character n-grams add little here and would make training a hundred times slower):

- a binary head, "is this a worst offender?", trained on every message, which decides whether
  there is an offense, and so whether a draft is possible; pooling all offenses gives it several
  times more examples than any single offense has (in cross-validation it finds about 87% of
  the worst offenders, against 79% for "any per-offense head fired");
- a one-vs-rest head per offense code, trained on solicitation, which only names what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
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
    return LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear")


@dataclass
class OffenseScores:
    worst: float                 # probability that this is a worst offender
    by_offense: dict[str, float] # probability of each offense code


class OffenseHead:
    """The binary and per-offense heads, and the feature columns they read."""

    def __init__(self, columns: np.ndarray) -> None:
        self.columns = columns
        self.worst = _logistic()
        self.each = OneVsRestClassifier(_logistic())

    def fit(self, x: sparse.csr_matrix, offenses: Sequence[Sequence[str]],
            solicitation: np.ndarray) -> OffenseHead:
        """`offenses` for every row of `x`; `solicitation` marks the solicitation rows."""
        x = x[:, self.columns]
        y = MultiLabelBinarizer(classes=list(OFFENSES)).fit_transform(offenses)
        # The binary head sees every message, so it also learns how a friend asking for one
        # introduction differs from a stranger asking for many.
        self.worst.fit(x, y.any(axis=1))
        # Naming offenses is only asked of solicitation. An offense with no example here is
        # left out of the fit and predicted absent.
        y_solicitation = y[solicitation]
        self.present_ = y_solicitation.any(axis=0)
        self.each.fit(x[solicitation], y_solicitation[:, self.present_])
        return self

    def predict(self, x: sparse.csr_matrix) -> list[OffenseScores]:
        x = x[:, self.columns]
        worst = self.worst.predict_proba(x)[:, 1]
        each = np.zeros((x.shape[0], len(OFFENSES)))
        each[:, self.present_] = self.each.predict_proba(x)
        return [
            OffenseScores(float(w), {code: float(p) for code, p in zip(OFFENSES, row,
                                                                       strict=True)})
            for w, row in zip(worst, each, strict=True)
        ]
