"""The numpy fast path of `Classifier` must agree with the scikit-learn pipeline it replaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triage import model as model_store
from triage.classifier import Classifier, shipped_model_path
from triage.message import parse_message

SAMPLES = Path(__file__).resolve().parents[1] / "triage" / "samples"
TRAINING = Path(__file__).resolve().parents[1] / "training_data" / "messages"


def _messages() -> list:
    paths = sorted(SAMPLES.glob("*.eml")) + sorted(TRAINING.glob("*.eml"))[::40]
    return [parse_message(p.read_bytes()) for p in paths]


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_fast_path_matches_scikit_learn(which: str, tiny_model_path: Path) -> None:
    path = tiny_model_path if which == "tiny" else shipped_model_path()
    if not path.exists():
        pytest.skip(f"no model at {path}")
    model = model_store.load(path)
    classifier = Classifier(model)
    assert classifier._fast_features is not None and classifier._fast_scores is not None
    messages = _messages()

    fast_x, heads_x = classifier.feature_matrices(messages)
    slow_x = model.features(messages)
    assert fast_x.shape == slow_x.shape
    assert abs(fast_x - slow_x).max() < 1e-5

    fast_classes, fast_offenses = classifier.scores(fast_x, heads_x)
    slow_classes, slow_offenses = model.scores(slow_x)
    for fast, slow in zip(fast_classes, slow_classes, strict=True):
        assert fast.keys() == slow.keys()
        assert np.allclose([fast[k] for k in fast], [slow[k] for k in fast], atol=1e-6)
    for fast, slow in zip(fast_offenses, slow_offenses, strict=True):
        assert fast.worst == pytest.approx(slow.worst, abs=1e-6)
        assert fast.by_offense == pytest.approx(slow.by_offense, abs=1e-6)
