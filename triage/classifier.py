"""The one code path from messages to Decisions, shared by every command, the daemon and evaluation.

What `triage evaluate` measures is exactly what `triage classify` prints and what the daemon
acts on: parse, prepare features, predict, gather evidence, apply the policy.

Prediction takes a fast route when the model has the shape `triage.model` builds: the word
TF-IDF is computed from token ids with numpy instead of scikit-learn's per-token Python loop, the
class and offense scores come from two sparse products with the stacked linear weights, and the
evidence of a whole batch is ranked at once. Each step reproduces scikit-learn's arithmetic
operation for operation, so the numbers are the same to the last bit; a model of any other shape
goes through the pipeline as it is.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Sequence
from importlib.resources import files
from itertools import chain, compress, repeat
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer, LabelEncoder, normalize
from sklearn.svm import LinearSVC
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from triage import model as model_store
from triage.charngrams import HashedCharNgrams
from triage.errors import ModelError
from triage.features import SIGNALS, prepare
from triage.message import Message
from triage.offenses import OFFENSES, OffenseScores, _probability_of_true
from triage.policy import Decision, DraftPolicy, Evidence, SenderContext, decide

MODEL_FILE = "triage.model"
_SIGNAL_DESCRIPTIONS = {f"signal:{s.name}": s.description for s in SIGNALS}
MAX_EVIDENCE = 8
# Rows per pass of the fast path: large enough to amortise numpy's per-call costs, small enough
# that its temporaries are reused by the allocator instead of being mapped afresh each time.
CHUNK = 128
MAX_REMEMBERED_EVIDENCE = 50_000


def shipped_model_path() -> Path:
    """The model that comes with triage: inside the installed package, or models/ in a checkout."""
    packaged = Path(str(files("triage"))) / "shipped_model" / MODEL_FILE
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parent.parent / "models" / MODEL_FILE


_DEFAULT_TOKENS = r"(?u)\b\w\w+\b"  # TfidfVectorizer's token_pattern
_ASCII_WORDS = bytes(c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 or c == 95
                     else 32 for c in range(256))
_LONGER_THAN_ONE = (1).__lt__


class _WordTfidf:
    """A fitted word-n-gram TfidfVectorizer's `transform`, from token ids with numpy.

    scikit-learn joins every bigram into a string and counts features in a Python dict; here the
    tokens of a batch are looked up once, bigrams are pairs of token ids found with a binary
    search, and one sort of (document, column) keys counts them and orders each row. The counts,
    the sublinear tf, the idf product and the l2 normalisation are then the same numpy and
    scikit-learn operations on the same values, so the matrix is identical.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.pattern = re.compile(vectorizer.token_pattern)
        self.default_tokens = vectorizer.token_pattern == _DEFAULT_TOKENS
        if self.default_tokens:
            # Runs of two or more word characters either way; without the \b checks the regex
            # engine spends a quarter less time per character.
            self.pattern = re.compile(r"\w\w+")
        self.dtype = vectorizer.dtype
        self.sublinear_tf = vectorizer.sublinear_tf
        self.idf = vectorizer.idf_ if vectorizer.use_idf else None
        self.norm = vectorizer.norm
        self.n_columns = len(vectorizer.vocabulary_)
        # Token ids for every word of the vocabulary; unigram and bigram columns by token id.
        # Built with C-level maps: the vocabulary has tens of thousands of terms.
        terms = list(vectorizer.vocabulary_)
        columns = np.fromiter(vectorizer.vocabulary_.values(), dtype=np.int64, count=len(terms))
        is_bigram = np.fromiter(map(str.__contains__, terms, repeat(" ")), dtype=bool,
                                count=len(terms))
        words = " ".join(terms).split(" ")
        self.token_ids = dict(zip(dict.fromkeys(words), range(len(words)), strict=False))
        self.n_tokens = max(len(self.token_ids), 1)
        ids = np.fromiter(map(self.token_ids.__getitem__, words), dtype=np.int64,
                          count=len(words))
        # each term's first word, and for bigrams the second
        term_starts = np.concatenate(([0], np.cumsum(1 + is_bigram)[:-1]))
        first = ids[term_starts]
        self.unigram_column = np.full(len(self.token_ids) + 1, -1, dtype=np.int64)  # [-1]: none
        self.unigram_column[first[~is_bigram]] = columns[~is_bigram]
        keys = first[is_bigram] * self.n_tokens + ids[term_starts[is_bigram] + 1]
        order = np.argsort(keys)
        self.bigram_keys = keys[order]
        self.bigram_columns = columns[is_bigram][order]

    @classmethod
    def supports(cls, vectorizer: Any) -> bool:
        """The settings this class reproduces; anything else keeps scikit-learn's transform."""
        try:
            return (
                type(vectorizer) is TfidfVectorizer
                and vectorizer.input == "content" and vectorizer.analyzer == "word"
                and vectorizer.preprocessor is None and vectorizer.tokenizer is None
                and vectorizer.lowercase is True and vectorizer.strip_accents is None
                and vectorizer.stop_words is None and vectorizer.binary is False
                and tuple(vectorizer.ngram_range) in ((1, 1), (1, 2))
                and re.compile(vectorizer.token_pattern).groups == 0
                and vectorizer.norm in ("l2", None)
                and vectorizer.dtype in (np.float32, np.float64)
                and cls._plain_terms(list(vectorizer.vocabulary_))
            )
        except (AttributeError, TypeError, re.error, ValueError):
            return False

    def _tokens(self, text: str) -> list[str]:
        """What the vectorizer's analyzer finds in `text` before making bigrams."""
        if self.default_tokens and text.isascii():
            # ASCII word characters are [A-Za-z0-9_]: make them lower-case and everything else a
            # space in one bytes.translate, split, and keep the words of two or more characters
            words = text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
            return list(compress(words, map(_LONGER_THAN_ONE, map(len, words))))
        return self.pattern.findall(text.lower())

    @staticmethod
    def _plain_terms(terms: list[str]) -> bool:
        """Every term is one word or two joined by one space, as the analyzer makes them."""
        spaces = list(map(str.count, terms, repeat(" ")))
        words = " ".join(terms).split(" ")
        return (max(spaces, default=0) <= 1 and len(words) == len(terms) + sum(spaces)
                and "" not in words)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        n_docs = len(texts)
        tokens = list(map(self._tokens, texts))
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=n_docs)
        total = int(lengths.sum())
        ids = np.fromiter(map(self.token_ids.get, chain.from_iterable(tokens), repeat(-1)),
                          dtype=np.int64, count=total)
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
        x = sparse.csr_matrix(
            (counts.astype(np.intc).astype(self.dtype),
             (unique % self.n_columns).astype(np.int32), indptr),
            shape=(n_docs, self.n_columns),
        )
        x.has_sorted_indices = True
        # TfidfTransformer.transform, step by step
        if self.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1.0
        if self.idf is not None:
            x.data *= self.idf[x.indices]
        if self.norm == "l2":
            inplace_csr_row_normalize_l2(x)  # what normalize() calls, minus its input checks
        elif self.norm is not None:
            x = normalize(x, norm=self.norm, copy=False)
        return x


class _FastFeatures:
    """The model's ColumnTransformer for the layout triage.model builds (words, chars, signals),
    with the word TF-IDF computed by `_WordTfidf`; the other transformers are the model's own."""

    def __init__(self, features: ColumnTransformer) -> None:
        self.parts: list[tuple[Callable[[Any], Any], Any, Any]] = []
        weights = features.transformer_weights or {}
        for name, transformer, columns in features.transformers_:
            self.parts.append((self._transform_of(name, transformer), columns, weights.get(name)))
        _name, words, _columns = features.transformers_[0]
        self.n_words = len(words.vocabulary_)
        self.n_signals = len(features.transformers_[2][2])  # one column per input column

    @staticmethod
    def _transform_of(name: str, transformer: Any) -> Callable[[Any], Any]:
        """The transformer's transform, or the same computation without the checks and the
        set_output wrapper, which do nothing here but cost time on every call."""
        if name == "words":
            return _WordTfidf(transformer).transform
        if isinstance(transformer, HashedCharNgrams):
            return transformer.transform_texts
        if (type(transformer) is FunctionTransformer and not transformer.validate
                and transformer.func is not None
                and not getattr(transformer, "_sklearn_output_config", None)):
            func, kw_args = transformer.func, transformer.kw_args or {}
            return lambda x: func(x, **kw_args)  # FunctionTransformer._transform
        return transformer.transform

    @classmethod
    def build(cls, features: Any) -> _FastFeatures | None:
        try:
            names = [name for name, _t, _c in features.transformers_]
            words = dict((n, t) for n, t, _c in features.transformers_)["words"]
            if (type(features) is not ColumnTransformer or not features.sparse_output_
                    or names != ["words", "chars", "signals"]
                    or features.transformers_[0][2] != 0 or not _WordTfidf.supports(words)):
                return None
        except (AttributeError, KeyError, IndexError, TypeError):
            return None
        return cls(features)

    def word_and_signal_columns(self, n_features: int) -> np.ndarray:
        """Where the columns of the second matrix `transform` returns are in the first."""
        return np.concatenate((np.arange(self.n_words),
                               np.arange(n_features - self.n_signals, n_features)))

    def transform(self, rows: np.ndarray) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """The feature matrix, and its word and signal columns (what the offense heads read:
        the same values in the same order as slicing them out of the matrix would give)."""
        blocks = []
        for transform, columns, weight in self.parts:
            block = transform(rows[:, columns])
            # x * 1.0 is x: skip the copy the ColumnTransformer would make
            blocks.append(block if weight is None or weight == 1 else block * weight)
        words, _chars, signals = blocks
        return sparse.hstack(blocks).tocsr(), sparse.hstack([words, signals]).tocsr()


class _FastScores:
    """Class probabilities and offense scores from two sparse products with all linear weights.

    The calibrated classifier is one LinearSVC with a sigmoid calibrator per class (what
    triage.model trains); the offense heads are logistic regressions over the word and signal
    columns. A sparse row times a weight column adds up value x weight in the row's column
    order, one column at a time or several at once, so every decision value is bit-for-bit
    what scikit-learn computes; only the calls around the products are saved.
    """

    def __init__(self, classifier: CalibratedClassifierCV, head: Any) -> None:
        calibrated = classifier.calibrated_classifiers_[0]
        svm = calibrated.estimator
        self.classes = [str(c) for c in classifier.classes_]
        # where _CalibratedClassifier puts each calibrated column
        self.class_columns = LabelEncoder().fit(calibrated.classes).transform(svm.classes_)
        self.calibrators = calibrated.calibrators
        self.n_classes = calibrated.classes.shape[0]
        self.svm_weights = np.ascontiguousarray(svm.coef_.T)  # what scipy would copy each time
        self.svm_intercept = svm.intercept_
        # each offense head: ("linear", column in the product), ("zero", None) or ("other", est)
        self.heads: list[tuple[str, Any]] = []
        weights: list[np.ndarray] = []
        intercepts: list[np.ndarray] = []
        for estimator in [head.worst, *(head.each.get(code) for code in OFFENSES)]:
            if estimator is None:
                self.heads.append(("zero", None))
            elif (type(estimator) is LogisticRegression
                  and [bool(c) for c in estimator.classes_] == [False, True]
                  and estimator.coef_.shape == (1, len(head.columns))):
                self.heads.append(("linear", len(weights)))
                weights.append(estimator.coef_[0])
                intercepts.append(estimator.intercept_)
            else:
                self.heads.append(("other", estimator))
        self.head_weights = np.ascontiguousarray(np.array(weights).T) if weights else None
        self.head_intercepts = intercepts
        self.head_columns = head.columns

    @classmethod
    def build(cls, pipeline: Any, head: Any, n_features: int) -> _FastScores | None:
        try:
            classifier = pipeline.named_steps["classifier"]
            if (type(classifier) is not CalibratedClassifierCV or classifier.method != "sigmoid"
                    or len(classifier.calibrated_classifiers_) != 1):
                return None
            calibrated = classifier.calibrated_classifiers_[0]
            svm = calibrated.estimator
            n_classes = len(classifier.classes_)
            if (type(svm) is not LinearSVC or n_classes < 3
                    or svm.coef_.shape != (n_classes, n_features)
                    or len(calibrated.calibrators) != n_classes
                    or list(calibrated.classes) != list(classifier.classes_)
                    or sorted(svm.classes_) != sorted(classifier.classes_)
                    or any(type(c).__name__ != "_SigmoidCalibration"
                           for c in calibrated.calibrators)):
                return None
            return cls(classifier, head)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            return None

    def predict(self, x: sparse.csr_matrix, x_heads: sparse.csr_matrix | None = None
                ) -> tuple[np.ndarray, list[OffenseScores]]:
        """`x_heads` is x[:, head columns], when the caller has it at hand."""
        n = x.shape[0]
        # _CalibratedClassifier.predict_proba for sigmoid calibration and three or more classes
        decision = x @ self.svm_weights + self.svm_intercept
        proba = np.zeros((n, self.n_classes))
        for class_index, this_decision, calibrator in zip(
                self.class_columns, decision.T, self.calibrators, strict=True):
            # _SigmoidCalibration.predict without its input check
            proba[:, class_index] = expit(-(calibrator.a_ * this_decision + calibrator.b_))
        denominator = np.sum(proba, axis=1)[:, np.newaxis]
        uniform = np.full_like(proba, 1 / self.n_classes)
        proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
        # CalibratedClassifierCV averages its one calibrated classifier: 0 + p, then / 1
        mean = np.zeros((n, len(self.classes)))
        mean += proba
        mean /= 1
        # offense heads: LogisticRegression.predict_proba(...)[:, True] = expit(decision)
        if x_heads is None:
            x_heads = x[:, self.head_columns]
        product = (x_heads @ self.head_weights if self.head_weights is not None
                   else np.zeros((n, 0)))
        head_scores = []
        for kind, detail in self.heads:
            if kind == "linear":
                score = product[:, detail] + self.head_intercepts[detail]
                head_scores.append(expit(score, out=score))
            elif kind == "zero":
                head_scores.append(np.zeros(n))
            else:
                head_scores.append(_probability_of_true(detail, x_heads))
        each = np.zeros((n, len(OFFENSES)))
        for k in range(len(OFFENSES)):
            each[:, k] = head_scores[k + 1]
        offenses = [
            OffenseScores(float(w), {code: float(p) for code, p in zip(OFFENSES, row,
                                                                       strict=True)})
            for w, row in zip(head_scores[0], each, strict=True)
        ]
        return mean, offenses


class Classifier:
    """A loaded model plus the draft policy, turning Messages into Decisions in batches."""

    def __init__(self, model: model_store.Model, policy: DraftPolicy | None = None) -> None:
        self.model = model
        self.policy = policy or DraftPolicy()
        coef, classes, names = model.linear_weights()
        self._coef = np.asarray(coef)
        self._classes = classes
        self._feature_names = names
        self._explainable = np.array([not n.startswith("chars:") for n in names])
        # Evidence is immutable and often the same (a signal's value times its weight): made
        # once, shared by the decisions that cite it
        self._made_evidence: dict[tuple[int, float], Evidence] = {}
        features = model.pipeline.named_steps["features"]
        self._fast_features = _FastFeatures.build(features)
        self._fast_scores = _FastScores.build(model.pipeline, model.offense_head, len(names))
        # the offense heads read the word and signal columns, which _FastFeatures also returns
        # on their own, saving a column slice of the whole matrix
        self._heads_read_words_and_signals = bool(
            self._fast_features and np.array_equal(
                model.offense_head.columns,
                self._fast_features.word_and_signal_columns(len(names))))

    @classmethod
    def load(cls, path: Path | None = None, policy: DraftPolicy | None = None) -> Classifier:
        path = path or shipped_model_path()
        if not path.exists():
            raise ModelError(f"no model at {path}; build one with `triage train`")
        classifier = cls(model_store.load(path), policy)
        # The ~100k objects of numpy, scipy, scikit-learn and the model live as long as the
        # process: keep full garbage collections from rescanning them (3-6% faster batches).
        gc.freeze()
        return classifier

    @property
    def version(self) -> str:
        return self.model.version

    def features(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        """The model's feature matrix: what `Model.features` gives, faster when possible."""
        return self.feature_matrices(messages)[0]

    def feature_matrices(self, messages: Sequence[Message]
                         ) -> tuple[sparse.csr_matrix, sparse.csr_matrix | None]:
        """The feature matrix, and (when the fast path made it on the way) the part of it the
        offense heads read: what `classify_features` takes."""
        if self._fast_features is None:
            return self.model.features(messages), None
        x, words_and_signals = self._fast_features.transform(prepare(messages))
        return x, words_and_signals if self._heads_read_words_and_signals else None

    def scores(self, x: sparse.csr_matrix, x_heads: sparse.csr_matrix | None = None
               ) -> tuple[list[dict[str, float]], list[OffenseScores]]:
        """What `Model.scores` gives, faster when possible."""
        if self._fast_scores is None:
            return self.model.scores(x)
        proba, offenses = self._fast_scores.predict(x, x_heads)
        classes = self._fast_scores.classes
        return [dict(zip(classes, map(float, row), strict=True)) for row in proba], offenses

    def _make_evidence(self, column: int, weight: float) -> Evidence:
        name = self._feature_names[column]
        description = _SIGNAL_DESCRIPTIONS.get(name, name.partition(":")[2])
        return Evidence(name, round(weight, 4), description)

    def _evidence(self, x: sparse.csr_matrix, labels: Sequence[str]) -> list[tuple[Evidence, ...]]:
        """For each row, the features that pushed hardest towards its label (value x weight),
        at most MAX_EVIDENCE, strongest first, positive ones only.

        Only word n-grams and named signals are considered: character n-grams move the score
        but explain nothing to a person. The batch is ranked at once, by (row, contribution).
        Equal contributions are common (rare bigrams of one training message share a weight),
        and their order is whatever np.argsort of the row makes of them; so a row with a tie
        among its leading entries is ranked by that very call.
        """
        n = x.shape[0]
        rows = np.repeat(np.arange(n), np.diff(x.indptr))
        explainable = np.flatnonzero(self._explainable[x.indices])
        rows, columns = rows[explainable], x.indices[explainable]
        label_index = np.array([self._classes.index(label) for label in labels], dtype=np.intp)
        contributions = x.data[explainable] * self._coef[label_index[rows], columns]
        positive = np.flatnonzero(contributions > 0)
        order = positive[np.lexsort((-contributions[positive], rows[positive]))]
        ranked_rows, ranked = rows[order], contributions[order]
        bounds = np.searchsorted(ranked_rows, np.arange(n + 1))
        rank = np.arange(len(order)) - bounds[ranked_rows]
        tied = (ranked[1:] == ranked[:-1]) & (ranked_rows[1:] == ranked_rows[:-1]) & (
            rank[:-1] < MAX_EVIDENCE)
        needs_argsort = set(ranked_rows[:-1][tied].tolist())
        top = rank < MAX_EVIDENCE
        picked_rows = ranked_rows[top].tolist()
        picked_columns = columns[order[top]].tolist()
        picked_weights = ranked[top].tolist()
        if needs_argsort:
            row_bounds = np.searchsorted(rows, np.arange(n + 1))
        evidence: list[list[Evidence]] = [[] for _ in range(n)]
        made = self._made_evidence
        if len(made) > MAX_REMEMBERED_EVIDENCE:
            made.clear()
        for row, column, weight in zip(picked_rows, picked_columns, picked_weights, strict=True):
            if row not in needs_argsort:
                item = made.get((column, weight))
                if item is None:
                    item = made[column, weight] = self._make_evidence(column, weight)
                evidence[row].append(item)
        for row in needs_argsort:
            start, stop = row_bounds[row], row_bounds[row + 1]
            row_contributions = contributions[start:stop]
            best = np.argsort(-row_contributions)[:MAX_EVIDENCE]
            best = best[row_contributions[best] > 0]  # the original stops at the first <= 0
            evidence[row] = [
                self._make_evidence(column, weight)
                for column, weight in zip(columns[start:stop][best].tolist(),
                                          row_contributions[best].tolist(), strict=True)
            ]
        return [tuple(items) for items in evidence]

    def classify(
        self,
        messages: Sequence[Message],
        contexts: Sequence[SenderContext] | None = None,
    ) -> list[Decision]:
        decisions = []
        for start in range(0, len(messages), CHUNK):
            chunk = messages[start : start + CHUNK]
            decisions += self.classify_features(chunk, *self.feature_matrices(chunk),
                                     contexts[start : start + CHUNK] if contexts else None)
        return decisions

    def classify_features(
        self,
        messages: Sequence[Message],
        x: sparse.csr_matrix,
        x_heads: sparse.csr_matrix | None = None,
        contexts: Sequence[SenderContext] | None = None,
    ) -> list[Decision]:
        """`classify` for messages whose feature matrices are made already (by
        `feature_matrices`); the benchmark times the two steps apart."""
        class_scores, offense_scores = self.scores(x, x_heads)
        labels = [max(scores, key=scores.__getitem__) for scores in class_scores]
        evidence = self._evidence(x, labels)
        return [
            decide(
                msg,
                class_scores[i],
                offense_scores[i],
                evidence[i],
                model_version=self.version,
                context=contexts[i] if contexts else SenderContext(),
                policy=self.policy,
            )
            for i, msg in enumerate(messages)
        ]
