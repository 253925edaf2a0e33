"""Training is deterministic: the same data gives the same model file, byte for byte."""

from __future__ import annotations

from pathlib import Path

from triage import model as model_store
from triage.training import load_labelled

TRAINING_DATA = Path(__file__).resolve().parents[1] / "training_data"


def test_training_twice_on_the_same_data_writes_identical_files(tmp_path: Path) -> None:
    data = load_labelled(TRAINING_DATA)
    every = slice(None, None, 25)  # ~130 messages of every class: seconds, not minutes
    messages, labels = data.messages[every], data.labels[every]
    offenses = data.offenses[every]
    assert {"relationship", "solicitation", "other"} <= set(labels)
    paths = []
    for run in (1, 2):
        trained = model_store.train(messages, labels, offenses)
        # Using the model between training and saving must not leak into the file either.
        trained.features(messages[:3])
        path = tmp_path / f"run{run}.model"
        model_store.save(trained, path)
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_writers_are_read_from_the_record_names(tmp_path: Path) -> None:
    """Each training_data record is named after its writer (rela-thanks-001.eml: writer rela),
    which is what the held-out-writer cross-validation groups by."""
    data = load_labelled(TRAINING_DATA)
    assert len(set(data.writers)) >= 15  # eighteen writers in five waves so far
    assert all(Path(p).name.startswith(w + "-") for p, w in zip(data.paths, data.writers,
                                                              strict=True))
    # a corpus of class folders has no writers: the class stands in
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a-b.eml").write_bytes(b"Subject: hi\n\nhello\n")
    assert load_labelled(tmp_path).writers == ("other",)
