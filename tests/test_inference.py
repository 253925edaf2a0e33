"""Classifying from the model file's arrays (triage.model.inference) must agree with the fitted
scikit-learn pipeline they were exported from, and must not need scikit-learn at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from triage.message.parse import parse_message
from triage.model.classifier import Classifier, shipped_model_path
from triage.training import pipeline as model_store

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "triage" / "samples"
TRAINING = REPO / "training_data" / "messages"


def _messages() -> list:
    paths = sorted(SAMPLES.glob("*.eml")) + sorted(TRAINING.glob("*.eml"))[::40]
    return [parse_message(p.read_bytes()) for p in paths]


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_arrays_reproduce_the_scikit_learn_pipeline(which: str, tiny_model_path: Path) -> None:
    path = tiny_model_path if which == "tiny" else shipped_model_path()
    if not path.exists():
        pytest.skip(f"no model at {path}")
    model = model_store.load(path)  # the pickled scikit-learn objects
    classifier = Classifier.load(path)  # the arrays only
    messages = _messages()

    x, x_heads = classifier.feature_matrices(messages)
    reference_x = model.features(messages)
    assert x.shape == reference_x.shape
    assert abs(x.to_scipy() - reference_x).max() < 1e-6
    assert abs(x_heads.to_scipy() - reference_x[:, model.offense_head.columns]).max() < 1e-6

    classes, offenses = classifier.scores(x, x_heads)
    reference_classes, reference_offenses = model.scores(reference_x)
    for ours, theirs in zip(classes, reference_classes, strict=True):
        assert ours.keys() == theirs.keys()
        assert np.allclose([ours[k] for k in ours], [theirs[k] for k in ours], atol=1e-9)
        assert max(ours, key=ours.__getitem__) == max(theirs, key=theirs.__getitem__)
    for ours, theirs in zip(offenses, reference_offenses, strict=True):
        assert ours.worst == pytest.approx(theirs.worst, abs=1e-9)
        assert ours.by_offense == pytest.approx(theirs.by_offense, abs=1e-9)


def test_a_model_in_memory_classifies_as_it_does_once_saved(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """Evaluation classifies with models it never saves: the same decisions either way."""
    model = model_store.load(tiny_model_path)
    model_store.save(model, tmp_path / "again.model")
    messages = _messages()
    in_memory = Classifier.of(model).classify(messages)
    from_file = Classifier.load(tmp_path / "again.model").classify(messages)
    assert in_memory == from_file
    assert {d.label for d in in_memory} == {"relationship", "solicitation", "other"}


# A classifying process as users start it: the CLI running `classify` and `filter`, plus what the
# daemon and the demo import
CLASSIFYING_PROCESS = """
import contextlib, io, json, sys
import triage.commands.demo, triage.daemon.supervisor, triage.store.personal
from triage.cli import main
model, sample = sys.argv[1:3]
with contextlib.redirect_stdout(io.StringIO()) as out:
    classified = main(["classify", "--json", "--model", model, sample])
sys.stdin = io.TextIOWrapper(io.BytesIO(open(sample, "rb").read()))
with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):
    filtered = main(["filter", "--model", model])
print(json.dumps({"codes": [classified, filtered], "label": json.loads(out.getvalue())["label"],
                  "heavy": sorted(m for m in sys.modules
                                  if m.split(".")[0] in ("sklearn", "scipy"))}))
"""


def test_classifying_never_imports_scikit_learn_or_scipy(tiny_model_path: Path) -> None:
    """scikit-learn costs ~70 MB and ~0.7 s per process, scipy.sparse and scipy.special a
    third of a filter's start-up; only training may import them."""
    sample = sorted(SAMPLES.glob("*.eml"))[0]
    done = subprocess.run(
        [sys.executable, "-c", CLASSIFYING_PROCESS, str(tiny_model_path), str(sample)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["codes"] == [0, 0]
    assert result["label"] in ("relationship", "solicitation", "other")
    assert result["heavy"] == []
