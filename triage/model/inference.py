"""The trained model as plain arrays: everything classifying needs, and no scikit-learn.

`triage.training.pipeline` fits a scikit-learn Pipeline (word TF-IDF, hashed character n-grams,
signals, a sigmoid-calibrated linear SVM) and the offense heads, then exports their fitted numbers;
this module computes the same predictions from those numbers. Importing scikit-learn (and the parts
of scipy it pulls in) costs about 70 MB and 0.7 s in every process, which the daemon, `classify` and
above all `filter` (started once per delivered message) should not pay.

Each step repeats scikit-learn's arithmetic operation for operation, so the numbers agree with
the pipeline's (tests/test_inference.py compares them):

- words: tokens become ids once per batch, bigrams are pairs of ids found with a binary search,
  one sort of (document, column) keys counts them; then sublinear tf, idf, l2 norm;
- characters: triage.model.charngrams;
- signals: floats, times their weight;
- classes: one sparse product with the SVM weights, a sigmoid per class, normalised;
- offenses: one sparse product with every linear head's weights, then the logistic function.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, compress, repeat
from typing import Any

import numpy as np

from triage.decide.offenses import OFFENSES, OffenseScores
from triage.errors import ModelError
from triage.model.charngrams import CharNgramTfidf
from triage.model.features import SIGNAL_NAMES
from triage.model.sparse_rows import SparseRows, hstack

_ASCII_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 or c == 95 else 32
    for c in range(256)
)
_LONGER_THAN_ONE = (1).__lt__
# TfidfVectorizer's default token_pattern, (?u)\b\w\w+\b: runs of two or more word characters
# (without the \b checks the regex engine spends a quarter less time per character)
_WORDS = re.compile(r"\w\w+")


def expit(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x)), which scipy.special.expit computes."""
    result: np.ndarray = np.negative(x, out=out)
    np.exp(result, out=result)
    result += 1.0
    np.reciprocal(result, out=result)
    return result


class IncompatibleModel(ModelError):
    """The arrays do not describe a model this module can compute."""


def encode_terms(terms: Sequence[str]) -> np.ndarray:
    """Terms as one UTF-8 byte array, newline-separated (no term contains a newline)."""
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8)


def decode_terms(data: np.ndarray) -> list[str]:
    return data.tobytes().decode("utf-8").split("\n") if len(data) else []


class WordTfidf:
    """A fitted word uni- and bigram TfidfVectorizer's transform (default token pattern,
    lower-case, sublinear tf, l2 norm), from its terms in column order and its idf."""

    def __init__(self, terms: list[str], idf: np.ndarray, dtype: np.dtype) -> None:
        self.terms = terms
        self.idf = idf
        self.dtype = dtype
        self.n_columns = len(terms)
        # Token ids for every word of the vocabulary; unigram and bigram columns by token id.
        # Built with C-level maps: the vocabulary has tens of thousands of terms.
        columns = np.arange(len(terms), dtype=np.int64)
        is_bigram = np.fromiter(
            map(str.__contains__, terms, repeat(" ")), dtype=bool, count=len(terms)
        )
        words = " ".join(terms).split(" ") if terms else []
        if len(words) != len(terms) + int(is_bigram.sum()) or "" in words:
            raise IncompatibleModel("word terms are not one or two words each")
        self.token_ids = dict(zip(dict.fromkeys(words), range(len(words)), strict=False))
        self.n_tokens = max(len(self.token_ids), 1)
        ids = np.fromiter(map(self.token_ids.__getitem__, words), dtype=np.int64, count=len(words))
        # each term's first word, and for bigrams the second
        term_starts = np.concatenate(([0], np.cumsum(1 + is_bigram)[:-1])).astype(np.int64)
        first = ids[term_starts] if len(terms) else ids
        self.unigram_column = np.full(len(self.token_ids) + 1, -1, dtype=np.int64)  # [-1]: none
        self.unigram_column[first[~is_bigram]] = columns[~is_bigram]
        keys = first[is_bigram] * self.n_tokens + ids[term_starts[is_bigram] + 1]
        order = np.argsort(keys)
        self.bigram_keys = keys[order]
        self.bigram_columns = columns[is_bigram][order]

    @staticmethod
    def tokens(text: str) -> list[str]:
        """What the vectorizer's analyzer finds in `text` before making bigrams."""
        if text.isascii():
            # ASCII word characters are [A-Za-z0-9_]: make them lower-case and everything else a
            # space in one bytes.translate, split, and keep the words of two or more characters
            words = text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
            return list(compress(words, map(_LONGER_THAN_ONE, map(len, words))))
        return _WORDS.findall(text.lower())

    def transform(self, texts: Sequence[str]) -> SparseRows:
        n_docs = len(texts)
        tokens = list(map(self.tokens, texts))
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=n_docs)
        total = int(lengths.sum())
        ids = np.fromiter(
            map(self.token_ids.get, chain.from_iterable(tokens), repeat(-1)),
            dtype=np.int64,
            count=total,
        )
        docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        columns = self.unigram_column[ids]
        found_docs, found_columns = [docs[columns >= 0]], [columns[columns >= 0]]
        if len(self.bigram_keys) and total > 1:
            first, second = ids[:-1], ids[1:]
            pair = (docs[:-1] == docs[1:]) & (first >= 0) & (second >= 0)
            keys = first[pair] * self.n_tokens + second[pair]
            at = np.minimum(np.searchsorted(self.bigram_keys, keys), len(self.bigram_keys) - 1)
            known = self.bigram_keys[at] == keys
            found_docs.append(docs[:-1][pair][known])
            found_columns.append(self.bigram_columns[at[known]])
        key = np.concatenate(found_docs) * self.n_columns + np.concatenate(found_columns)
        key.sort()
        change = np.empty(len(key), dtype=bool)
        change[:1] = True
        np.not_equal(key[1:], key[:-1], out=change[1:])
        starts = np.flatnonzero(change)
        counts = np.diff(np.append(starts, len(key)))
        unique = key[starts]
        indptr = np.zeros(n_docs + 1, dtype=np.int32)
        np.cumsum(np.bincount(unique // self.n_columns, minlength=n_docs), out=indptr[1:])
        x = SparseRows(
            counts.astype(np.intc).astype(self.dtype),
            (unique % self.n_columns).astype(np.int32),
            indptr,
            self.n_columns,
        )
        # TfidfTransformer.transform, step by step: sublinear tf, idf, then the l2 norm as
        # sklearn's inplace_csr_row_normalize_l2 computes it (squares summed in float64, row by
        # row in column order, which is what bincount does)
        np.log(x.data, x.data)
        x.data += 1.0
        x.data *= self.idf[x.indices]
        rows = np.repeat(np.arange(n_docs), np.diff(x.indptr))
        norms = np.sqrt(np.bincount(rows, weights=x.data * x.data, minlength=n_docs))
        norms[norms == 0] = 1.0
        x.data /= norms[rows]
        return x


class InferenceModel:
    """Features and scores of prepared rows (triage.model.features.prepare) from exported arrays.

    `spec` is the JSON part (names, shapes of things, settings), `arrays` the numbers; both are
    what `triage.training.pipeline.export` makes and the model file stores.
    """

    def __init__(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        try:
            self._build(spec, arrays)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise IncompatibleModel(f"{type(exc).__name__}: {exc}") from None

    def _build(self, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.classes: list[str] = [str(c) for c in spec["classes"]]
        self.words = WordTfidf(
            decode_terms(arrays["words.terms"]), arrays["words.idf"], np.dtype(spec["words_dtype"])
        )
        chars = spec["chars"]
        if not 8 <= int(chars["bits"]) <= 24:  # 2**bits column slots are allocated
            raise IncompatibleModel(f"{chars['bits']} hash bits")
        self.chars = CharNgramTfidf(
            tuple(chars["ngram_range"]),
            chars["bits"],
            chars["max_chars"],
            arrays["chars.kept"],
            arrays["chars.idf"],
        )
        self.signal_weight = float(spec["signal_weight"])
        # models trained before 2026-12-08 kept their signals in float64
        self.signals_dtype = np.dtype(spec.get("signals_dtype", "float64"))
        self.n_words, self.n_chars = self.words.n_columns, len(self.chars.idf)
        self.n_features = self.n_words + self.n_chars + len(SIGNAL_NAMES)
        # the SVM and its calibrators, in the SVM's class order
        self.svm_classes: list[str] = [str(c) for c in spec["svm_classes"]]
        self.coef = arrays["svm.coef"]
        if (
            self.coef.shape != (len(self.svm_classes), self.n_features)
            or len(self.svm_classes) != len(self.classes)
            or len(self.classes) < 3
        ):
            raise IncompatibleModel("the SVM does not match the features and classes")
        self.svm_intercept = arrays["svm.intercept"]
        self.calibration = list(
            zip(
                arrays["calibration.column"].tolist(),
                arrays["calibration.a"].tolist(),
                arrays["calibration.b"].tolist(),
                strict=True,
            )
        )
        # offense heads, in the order worst, then OFFENSES: a linear head's column in the
        # product, or a constant probability
        kinds = spec["heads"]
        if len(kinds) != 1 + len(OFFENSES):
            raise IncompatibleModel("the offense heads do not match the offense codes")
        self.head_weights = arrays["heads.coef"]
        self.head_intercepts = arrays["heads.intercept"]
        constants = arrays["heads.constant"].tolist()
        self.heads: list[tuple[str, float]] = []
        linear = 0
        for k, kind in enumerate(kinds):
            if kind == "linear":
                self.heads.append(("linear", linear))
                linear += 1
            else:
                self.heads.append(("constant", constants[k]))
        if self.head_weights.shape != (self.n_words + len(SIGNAL_NAMES), linear):
            raise IncompatibleModel("the offense heads do not read the word and signal columns")

    def feature_name(self, column: int) -> str:
        """The column's name; the character buckets share one (they explain nothing to a person,
        and ~170k names would cost every process megabytes)."""
        if column < self.n_words:
            return f"words:{self.words.terms[column]}"
        if column < self.n_words + self.n_chars:
            return "chars:"
        return f"signal:{SIGNAL_NAMES[column - self.n_words - self.n_chars]}"

    def transform(self, rows: np.ndarray) -> tuple[SparseRows, SparseRows]:
        """The feature matrix, and its word and signal columns (what the offense heads read)."""
        texts: list[str] = rows[:, 0].tolist()
        words = self.words.transform(texts)
        chars = self.chars.transform(texts)
        signals = SparseRows.from_dense(
            np.asarray(rows[:, 1:], dtype=self.signals_dtype) * self.signal_weight
        )
        return hstack([words, chars, signals]), hstack([words, signals])

    def predict(self, x: SparseRows, x_heads: SparseRows) -> tuple[np.ndarray, list[OffenseScores]]:
        """Class probabilities (columns in `classes` order) and offense scores."""
        n = x.shape[0]
        # CalibratedClassifierCV.predict_proba: one sigmoid per SVM decision column, placed in
        # the calibrated class order, then normalised
        decision = x.dot_transposed(self.coef) + self.svm_intercept
        proba = np.zeros((n, len(self.classes)))
        for (column, a, b), this_decision in zip(self.calibration, decision.T, strict=True):
            proba[:, column] = expit(-(a * this_decision + b))
        denominator = np.sum(proba, axis=1)[:, np.newaxis]
        uniform = np.full_like(proba, 1 / len(self.classes))
        proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
        # offense heads: LogisticRegression.predict_proba(...)[:, True] = expit(decision)
        product = x_heads @ self.head_weights
        head_scores = []
        for kind, detail in self.heads:
            if kind == "linear":
                score = product[:, int(detail)] + self.head_intercepts[int(detail)]
                head_scores.append(expit(score, out=score))
            else:
                head_scores.append(np.full(n, detail))
        worst, each = head_scores[0], np.column_stack(head_scores[1:])
        offenses = [
            OffenseScores(float(w), dict(zip(OFFENSES, map(float, row), strict=True)))
            for w, row in zip(worst, each, strict=True)
        ]
        return proba, offenses
