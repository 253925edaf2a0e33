"""Training is deterministic: the same data gives the same model file, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.compose import ColumnTransformer
from tiny_model import corpus, eml

from triage.cli import main
from triage.model import modelfile
from triage.model.features import prepare
from triage.training import pipeline as model_store
from triage.training.corpora import load_labelled, load_training_set
from triage.training.estimators import stack_columns

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


def test_stacking_a_slice_of_rows_at_a_time_gives_scipys_matrix() -> None:
    rng = np.random.default_rng(0)
    blocks = [
        sparse.random(2_500, width, density=density, format="csr", dtype=dtype, rng=rng)
        for width, density, dtype in (
            (40, 0.1, np.float32),
            (300, 0.02, np.float32),
            (7, 0.0, np.float64),
        )
    ]
    keep = np.ones(2_500, dtype=np.float32)
    keep[100:1_100] = 0  # rows empty in a block, across a slice boundary
    blocks[0] = (sparse.diags(keep) @ blocks[0]).tocsr()
    blocks[0].eliminate_zeros()
    ours, theirs = stack_columns(blocks, rows=1_024), sparse.hstack(blocks).tocsr()
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert np.array_equal(ours.indptr, theirs.indptr)
    assert np.array_equal(ours.indices, theirs.indices)
    assert np.array_equal(ours.data, theirs.data)


def test_the_lean_column_transformer_builds_the_same_features(tmp_path: Path) -> None:
    rows = prepare(load_labelled(TRAINING_DATA).messages[::50])
    lean = model_store.build_features()
    plain = ColumnTransformer(**lean.get_params(deep=False))
    ours, theirs = lean.fit_transform(rows), plain.fit_transform(rows)
    assert ours.dtype == theirs.dtype and (ours != theirs).nnz == 0


def test_preparing_while_reading_gives_the_rows_of_the_parsed_corpus(tmp_path: Path) -> None:
    """`triage train` prepares each message as it is read, never holding all of them parsed."""
    data = tmp_path / "data"
    raws, labels, offenses = corpus()
    for i, (raw, label) in enumerate(zip(raws, labels, strict=True)):
        (data / label).mkdir(parents=True, exist_ok=True)
        (data / label / f"{i}.eml").write_bytes(raw)
    training_set, fingerprint = load_training_set(data)
    parsed = load_labelled(data)
    assert fingerprint == parsed.fingerprint
    assert training_set.labels == parsed.labels and training_set.offenses == parsed.offenses
    assert np.array_equal(training_set.rows, prepare(parsed.messages))


def test_writers_are_read_from_the_record_names(tmp_path: Path) -> None:
    """Each training_data record is named after its writer (rela-thanks-001.eml: writer rela),
    which is what the held-out-writer cross-validation groups by."""
    data = load_labelled(TRAINING_DATA)
    assert len(set(data.writers)) >= 15  # eighteen writers in five waves so far
    assert all(
        Path(p).name.startswith(w + "-") for p, w in zip(data.paths, data.writers, strict=True)
    )
    # a corpus of class folders has no writers: the class stands in
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a-b.eml").write_bytes(b"Subject: hi\n\nhello\n")
    assert load_labelled(tmp_path).writers == ("other",)


def test_evaluate_skip_cv_without_data_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 13, item 3: it ended in a FileNotFoundError traceback about summary.json."""
    code = main(["evaluate", "--skip-cv", "--report", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code == 1
    assert "--skip-cv leaves nothing to evaluate" in err and "--data" in err
    assert "Traceback" not in err


def test_evaluate_on_a_data_set_writes_a_new_report_directory(
    tmp_path: Path, tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "set"
    for label, text in (
        ("relationship", "Thank you so much for the intro to Ana."),
        ("other", "The quarterly report is attached, see page 3."),
    ):
        (data / label).mkdir(parents=True)
        (data / label / "1.eml").write_bytes(eml(text))
    report = tmp_path / "new" / "report"
    code = main(
        [
            "evaluate",
            "--skip-cv",
            "--data",
            str(data),
            "--report",
            str(report),
            "--model",
            str(tiny_model_path),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "test-set" in json.loads((report / "summary.json").read_text())


def test_train_says_where_it_is_and_records_the_models_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13, item 4: minutes passed with no output between the first and last lines. And
    `triage learn` may build only on a model triage wrote (issue 10, item 7)."""
    data = tmp_path / "data"
    raws, labels, _offenses = corpus()
    for i, (raw, label) in enumerate(zip(raws, labels, strict=True)):
        (data / label).mkdir(parents=True, exist_ok=True)
        (data / label / f"{i}.eml").write_bytes(raw)
    output, state = tmp_path / "m.model", tmp_path / "state"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--output",
                str(output),
                "--skip-cv",
                "--state-dir",
                str(state),
            ]
        )
        == 0
    )
    steps = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("INFO triage.commands.train: [")
    ]
    assert [line.split("] ", 1)[1].split(" ")[0] for line in steps] == [
        "reading",
        "fitting",
        "writing",
    ]
    assert modelfile.read_metadata(output)["payload_sha256"] in modelfile.trusted_digests(
        state, tmp_path / "no-shipped.model"
    )


def test_train_without_a_corpus_says_where_one_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13, item 4: a pip-installed triage said "no labels.csv" about a path inside
    site-packages. As installed there, with no training_data/ in the current directory:"""
    from triage.training import corpora as training

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        training, "__file__", str(tmp_path / "site-packages" / "triage" / "training.py")
    )
    assert main(["train", "--output", str(tmp_path / "m.model")]) == 1
    err = capsys.readouterr().err
    assert "no training data found" in err and "--data DIR" in err
    assert "site-packages" not in err
