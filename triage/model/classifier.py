"""The one code path from messages to Decisions, shared by every command, the daemon and evaluation.

What `triage evaluate` measures is exactly what `triage classify` prints and what the daemon
acts on: parse, prepare features, predict (triage.model.inference, from the model file's arrays),
gather evidence, apply the policy. Nothing here imports scikit-learn.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from triage.decide.offenses import OffenseScores
from triage.decide.policy import Decision, DraftPolicy, Evidence, SenderContext, decide
from triage.errors import ModelError
from triage.message.parse import Message
from triage.model import modelfile
from triage.model.features import SIGNAL_NAMES, SIGNALS, prepare
from triage.model.inference import IncompatibleModel, InferenceModel
from triage.model.sparse_rows import SparseRows

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
    return Path(__file__).resolve().parents[2] / "models" / MODEL_FILE


class TrainedModel(Protocol):
    """What `Classifier.of` needs of a triage.training.pipeline.Model (which imports
    scikit-learn)."""

    metadata: dict[str, Any]

    def inference(self) -> InferenceModel: ...


class Classifier:
    """A loaded model plus the draft policy, turning Messages into Decisions in batches."""

    def __init__(
        self, inference: InferenceModel, metadata: dict[str, Any], policy: DraftPolicy | None = None
    ) -> None:
        self.inference = inference
        self.metadata = metadata
        self.policy = policy or DraftPolicy()
        # character n-gram buckets move scores but explain nothing to a person
        self._explainable = np.ones(inference.n_features, dtype=bool)
        self._explainable[inference.n_words : inference.n_words + inference.n_chars] = False
        # Evidence is immutable and often the same (a signal's value times its weight): made
        # once, shared by the decisions that cite it
        self._made_evidence: dict[tuple[int, float], Evidence] = {}

    @classmethod
    def load(cls, path: Path | None = None, policy: DraftPolicy | None = None) -> Classifier:
        path = path or shipped_model_path()
        if not path.exists():
            raise ModelError(f"no model at {path}; build one with `triage train`")
        metadata, arrays = modelfile.read_arrays(path)
        try:
            inference = InferenceModel(metadata.get("inference") or {}, arrays)
        except IncompatibleModel as exc:
            raise ModelError(
                f"{path} does not hold a model this triage can use ({exc}); "
                f"retrain with `triage train`"
            ) from None
        classifier = cls(inference, metadata, policy)
        # The ~100k objects of numpy, scipy and the model live as long as the process: keep
        # full garbage collections from rescanning them (3-6% faster batches).
        gc.freeze()
        return classifier

    @classmethod
    def of(cls, model: TrainedModel, policy: DraftPolicy | None = None) -> Classifier:
        """A classifier for a model trained in this process (evaluation, `triage learn`),
        computing exactly what the same model gives once saved and loaded."""
        return cls(model.inference(), model.metadata, policy)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unversioned"))

    def feature_matrices(self, messages: Sequence[Message]) -> tuple[SparseRows, SparseRows]:
        """The feature matrix, and the part of it the offense heads read (what
        `classify_features` takes)."""
        return self.inference.transform(prepare(messages))

    def scores(
        self, x: SparseRows, x_heads: SparseRows
    ) -> tuple[list[dict[str, float]], list[OffenseScores]]:
        """Class probabilities and offense scores for each row."""
        proba, offenses = self.inference.predict(x, x_heads)
        classes = self.inference.classes
        return [dict(zip(classes, map(float, row), strict=True)) for row in proba], offenses

    def _signal_values(self, x: SparseRows) -> list[list[float]]:
        """Each row's named signals as computed (0..1), read back from the feature matrix."""
        first = self.inference.n_words + self.inference.n_chars
        values = x.dense_columns(first) / self.inference.signal_weight
        rows: list[list[float]] = values.tolist()
        return rows

    def _make_evidence(self, column: int, weight: float) -> Evidence:
        name = self.inference.feature_name(column)
        description = _SIGNAL_DESCRIPTIONS.get(name, name.partition(":")[2])
        return Evidence(name, round(weight, 4), description)

    def _evidence(self, x: SparseRows, labels: Sequence[str]) -> list[tuple[Evidence, ...]]:
        """For each row, the features that pushed hardest towards its label (value x weight),
        at most MAX_EVIDENCE, strongest first, positive ones only.

        Only word n-grams and named signals are considered: character n-grams move the score
        but explain nothing to a person. The batch is ranked at once, by (row, contribution).
        Equal contributions are common (rare bigrams of one training message share a weight),
        and their order is whatever np.argsort of the row makes of them; so a row with a tie
        among its leading entries is ranked by that very call.
        """
        n = x.shape[0]
        rows = x.row_of_each_entry()
        explainable = np.flatnonzero(self._explainable[x.indices])
        rows, columns = rows[explainable], x.indices[explainable]
        svm_classes = self.inference.svm_classes
        label_index = np.array([svm_classes.index(label) for label in labels], dtype=np.intp)
        contributions = x.data[explainable] * self.inference.coef[label_index[rows], columns]
        positive = np.flatnonzero(contributions > 0)
        order = positive[np.lexsort((-contributions[positive], rows[positive]))]
        ranked_rows, ranked = rows[order], contributions[order]
        bounds = np.searchsorted(ranked_rows, np.arange(n + 1))
        rank = np.arange(len(order)) - bounds[ranked_rows]
        tied = (
            (ranked[1:] == ranked[:-1])
            & (ranked_rows[1:] == ranked_rows[:-1])
            & (rank[:-1] < MAX_EVIDENCE)
        )
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
                for column, weight in zip(
                    columns[start:stop][best].tolist(),
                    row_contributions[best].tolist(),
                    strict=True,
                )
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
            decisions += self.classify_features(
                chunk,
                *self.feature_matrices(chunk),
                contexts[start : start + CHUNK] if contexts else None,
            )
        return decisions

    def classify_features(
        self,
        messages: Sequence[Message],
        x: SparseRows,
        x_heads: SparseRows,
        contexts: Sequence[SenderContext] | None = None,
    ) -> list[Decision]:
        """`classify` for messages whose feature matrices are made already (by
        `feature_matrices`); the benchmark times the two steps apart."""
        class_scores, offense_scores = self.scores(x, x_heads)
        labels = [max(scores, key=scores.__getitem__) for scores in class_scores]
        evidence = self._evidence(x, labels)
        signals = self._signal_values(x)
        return [
            decide(
                msg,
                class_scores[i],
                offense_scores[i],
                evidence[i],
                signals=dict(zip(SIGNAL_NAMES, signals[i], strict=True)),
                model_version=self.version,
                context=contexts[i] if contexts else SenderContext(),
                policy=self.policy,
            )
            for i, msg in enumerate(messages)
        ]
