"""The scikit-learn estimators triage defines for training; classifying never imports this.

- `HashedCharNgrams`: triage.model.charngrams as a transformer a ColumnTransformer can clone
  and fit.
- `SparseColumns`: a ColumnTransformer that stacks its sparse blocks without a second copy.
- `OffenseHead`: which worst-offender behaviours a message shows, and whether it shows any at
  all. Two heads over the class model's features, restricted to word n-grams and named signals
  (character n-grams add little here and would make training a hundred times slower):
  a binary head, "is this a worst offender?", trained on every message, which decides whether
  there is an offense and so whether a draft is possible (pooling all offenses gives it several
  times more examples than any single offense has: in cross-validation it finds about 87% of
  the worst offenders, against 79% for "any per-offense head fired"); and a head per offense
  code, trained on solicitation, which only names what was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MultiLabelBinarizer

from triage.decide.offenses import OFFENSES, OffenseScores
from triage.model.charngrams import CharNgramTfidf


class HashedCharNgrams(TransformerMixin, BaseEstimator):  # type: ignore[misc]  # untyped sklearn
    """TF-IDF over hashed byte n-grams of the first `max_chars` characters of each text."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (3, 5),
        bits: int = 20,
        max_chars: int = 1_000,
        min_df: int = 3,
    ) -> None:
        self.ngram_range = ngram_range
        self.bits = bits
        self.max_chars = max_chars
        self.min_df = min_df

    def fit(self, texts: Sequence[str], y: object = None) -> HashedCharNgrams:
        self.tfidf_ = CharNgramTfidf.fit(
            texts, self.ngram_range, self.bits, self.max_chars, self.min_df
        )
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.tfidf_.transform(texts).to_scipy()

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array([f"charhash{i}" for i in range(len(self.tfidf_.idf))], dtype=object)


class SparseColumns(ColumnTransformer):  # type: ignore[misc]  # untyped sklearn
    """ColumnTransformer with the same output, stacked a slice of rows at a time: scipy's
    hstack first concatenates every block's arrays, a copy as large as the result, and that
    copy was a fifth of training's peak memory. `_hstack` is the hook scikit-learn documents
    for subclasses to control stacking."""

    def _hstack(self, Xs: list[Any], *, n_samples: int) -> Any:
        if self.sparse_output_ and all(sparse.isspmatrix_csr(x) for x in Xs):
            return stack_columns(Xs)
        return super()._hstack(Xs, n_samples=n_samples)


def stack_columns(blocks: Sequence[sparse.csr_matrix], rows: int = 1024) -> sparse.csr_matrix:
    """`sparse.hstack(blocks).tocsr()`, written into its final arrays `rows` rows at a time,
    so that nothing but the blocks and the result is ever held whole."""
    indptr = np.sum([b.indptr.astype(np.int64) for b in blocks], axis=0)
    data = np.empty(indptr[-1], dtype=np.result_type(*(b.dtype for b in blocks)))
    indices = np.empty(indptr[-1], dtype=np.int32)
    n_rows = blocks[0].shape[0]
    for start in range(0, n_rows, rows):
        part = sparse.hstack([b[start : start + rows] for b in blocks], format="csr")
        low, high = indptr[start], indptr[min(start + rows, n_rows)]
        data[low:high] = part.data
        indices[low:high] = part.indices
    shape = (n_rows, sum(b.shape[1] for b in blocks))
    index_type = np.int32 if indptr[-1] < 2**31 else np.int64
    return sparse.csr_matrix((data, indices, indptr.astype(index_type)), shape=shape)


def _logistic() -> LogisticRegression:
    return LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear", random_state=0)


def probability_of_true(
    estimator: LogisticRegression | DummyClassifier, x: sparse.csr_matrix
) -> np.ndarray:
    """P(True); an estimator that only ever saw False (a tiny corpus) says 0."""
    classes = list(estimator.classes_)
    if True not in classes:
        return np.zeros(x.shape[0])
    probabilities: np.ndarray = estimator.predict_proba(x)[:, classes.index(True)]
    return probabilities


class OffenseHead:
    """The binary and per-offense heads, and the feature columns they read."""

    def __init__(self, columns: np.ndarray) -> None:
        self.columns = columns
        self.worst: LogisticRegression | DummyClassifier = _logistic()
        self.each: dict[str, LogisticRegression | DummyClassifier] = {}

    def fit(
        self, x: sparse.csr_matrix, offenses: Sequence[Sequence[str]], solicitation: np.ndarray
    ) -> OffenseHead:
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
        worst = probability_of_true(self.worst, x)
        each = np.zeros((x.shape[0], len(OFFENSES)))
        for k, code in enumerate(OFFENSES):
            if code in self.each:
                each[:, k] = probability_of_true(self.each[code], x)
        return [
            OffenseScores(float(w), {code: float(p) for code, p in zip(OFFENSES, row, strict=True)})
            for w, row in zip(worst, each, strict=True)
        ]
