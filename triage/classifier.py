"""The one code path from messages to Decisions, shared by every command, the daemon and evaluation.

What `triage evaluate` measures is exactly what `triage classify` prints and what the daemon
acts on: parse, prepare features, predict, gather evidence, apply the policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
from scipy import sparse

from triage import model as model_store
from triage.errors import ModelError
from triage.features import SIGNALS
from triage.message import Message
from triage.policy import Decision, DraftPolicy, Evidence, SenderContext, decide

MODEL_FILE = "triage.model"
_SIGNAL_DESCRIPTIONS = {f"signal:{s.name}": s.description for s in SIGNALS}
MAX_EVIDENCE = 8


def shipped_model_path() -> Path:
    """The model that comes with triage: inside the installed package, or models/ in a checkout."""
    packaged = Path(str(files("triage"))) / "shipped_model" / MODEL_FILE
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parent.parent / "models" / MODEL_FILE


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

    @classmethod
    def load(cls, path: Path | None = None, policy: DraftPolicy | None = None) -> Classifier:
        path = path or shipped_model_path()
        if not path.exists():
            raise ModelError(f"no model at {path}; build one with `triage train`")
        return cls(model_store.load(path), policy)

    @property
    def version(self) -> str:
        return self.model.version

    def _evidence(self, x: sparse.csr_matrix, row: int, label: str) -> tuple[Evidence, ...]:
        """Features of one message that pushed hardest towards `label` (value x weight).

        Only word n-grams and named signals are considered: character n-grams move the score
        but explain nothing to a person.
        """
        start, end = x.indptr[row], x.indptr[row + 1]
        columns = x.indices[start:end]
        explainable = self._explainable[columns]
        columns = columns[explainable]
        contributions = x.data[start:end][explainable] * self._coef[
            self._classes.index(label), columns]
        evidence = []
        for position in np.argsort(-contributions)[:MAX_EVIDENCE]:
            weight = float(contributions[position])
            if weight <= 0:
                break
            name = self._feature_names[columns[position]]
            description = _SIGNAL_DESCRIPTIONS.get(name, name.partition(":")[2])
            evidence.append(Evidence(name, round(weight, 4), description))
        return tuple(evidence)

    def classify(
        self,
        messages: Sequence[Message],
        contexts: Sequence[SenderContext] | None = None,
    ) -> list[Decision]:
        if not messages:
            return []
        x = self.model.features(messages)
        class_scores, offense_scores = self.model.scores(x)
        decisions = []
        for i, msg in enumerate(messages):
            scores = class_scores[i]
            label = max(scores, key=scores.__getitem__)
            decisions.append(
                decide(
                    msg,
                    scores,
                    offense_scores[i],
                    self._evidence(x, i, label),
                    model_version=self.version,
                    context=contexts[i] if contexts else SenderContext(),
                    policy=self.policy,
                )
            )
        return decisions
