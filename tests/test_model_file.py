"""Model files: a self-describing envelope checked before anything is used.

Layout (triage.model.modelfile): MAGIC, a 4-byte big-endian header length, the JSON header, the
arrays classifying reads, the joblib payload training reads. Every way a file can be damaged or
outdated must give one clear ModelError from the reader concerned, and saving must be atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import sklearn
from tiny_model import corpus

from triage.cli import main
from triage.errors import ModelError
from triage.message.parse import parse_message
from triage.model import features, modelfile
from triage.model.classifier import Classifier, shipped_model_path
from triage.model.features import prepare
from triage.training import pipeline as model_store


def split_file(data: bytes) -> tuple[dict, bytes, bytes]:
    """(header, arrays, payload) of a model file, parsed independently of triage."""
    assert data.startswith(b"TRIAGE-MODEL\n")
    start = len(b"TRIAGE-MODEL\n")
    (length,) = struct.unpack(">I", data[start : start + 4])
    header = json.loads(data[start + 4 : start + 4 + length])
    body = data[start + 4 + length :]
    return header, body[: header["arrays_bytes"]], body[header["arrays_bytes"] :]


def join_file(header: dict, arrays: bytes, payload: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return b"TRIAGE-MODEL\n" + struct.pack(">I", len(encoded)) + encoded + arrays + payload


def edited_copy(source: Path, target: Path, **changes: object) -> Path:
    header, arrays, payload = split_file(source.read_bytes())
    header.update(changes)
    target.write_bytes(join_file(header, arrays, payload))
    return target


def _check_message(
    caught: pytest.ExceptionInfo[ModelError], path: Path, fragments: tuple[str, ...]
) -> None:
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def assert_clear_error(path: Path, *fragments: str, classifying: bool = True) -> None:
    """Loading for training fails with one clear line; so does loading for classifying,
    unless `classifying` is False (damage in a part classifying never reads)."""
    with pytest.raises(ModelError) as caught:
        model_store.load(path)
    _check_message(caught, path, fragments)
    if classifying:
        with pytest.raises(ModelError) as caught:
            Classifier.load(path)
        _check_message(caught, path, fragments)


# ------------------------------------------------------------------------------- round trip


def test_save_load_roundtrip_predicts_the_same(tiny_model_path: Path, tmp_path: Path) -> None:
    raws, labels, offenses = corpus()
    messages = [parse_message(r) for r in raws]
    original = model_store.load(tiny_model_path)
    copy_path = tmp_path / "sub" / "dir" / "copy.model"  # parent directories are created
    model_store.save(original, copy_path)
    copy = model_store.load(copy_path)

    x_original, x_copy = original.features(messages), copy.features(messages)
    assert (x_original != x_copy).nnz == 0
    scores_original, offenses_original = original.scores(x_original)
    scores_copy, offenses_copy = copy.scores(x_copy)
    assert scores_copy == scores_original
    assert offenses_copy == offenses_original
    classifier = original.pipeline.named_steps["classifier"]
    np.testing.assert_array_equal(
        classifier.predict(x_original), copy.pipeline.named_steps["classifier"].predict(x_copy)
    )
    assert len(prepare(messages)) == len(labels) == len(offenses)


def test_metadata_travels_with_the_model(tiny_model_path: Path) -> None:
    header, arrays, payload = split_file(tiny_model_path.read_bytes())
    assert header["format_version"] == modelfile.FORMAT_VERSION
    assert header["sklearn_version"] == sklearn.__version__
    assert header["classes"] == list(model_store.LABELS)
    assert header["offenses"] == list(model_store.OFFENSES)
    assert header["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert header["arrays_sha256"] == hashlib.sha256(arrays).hexdigest()
    assert header["version"] == "tiny-test-model"  # set by the trainer, kept by save
    loaded = model_store.load(tiny_model_path)
    assert loaded.version == "tiny-test-model"
    assert loaded.metadata["training_messages"] == len(corpus()[0])
    assert modelfile.read_metadata(tiny_model_path) == header


def test_classifier_loads_a_saved_model(tiny_model_path: Path) -> None:
    classifier = Classifier.load(tiny_model_path)
    decisions = classifier.classify([parse_message(corpus()[0][0])])
    assert decisions[0].model_version == "tiny-test-model"
    assert classifier.classify([]) == []


# -------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize("where", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("section", ["arrays", "payload"])
def test_flipped_bytes_are_a_checksum_error(
    tiny_model_path: Path, tmp_path: Path, where: float, section: str
) -> None:
    data = bytearray(tiny_model_path.read_bytes())
    _header, arrays, payload = split_file(bytes(data))
    start = (
        len(data) - len(payload) - len(arrays) if section == "arrays" else len(data) - len(payload)
    )
    size = len(arrays) if section == "arrays" else len(payload)
    data[start + min(int(size * where), size - 1)] ^= 0xFF
    damaged = tmp_path / "flipped.model"
    damaged.write_bytes(bytes(data))
    # classifying reads the arrays only: a damaged payload matters to `triage learn` alone
    assert_clear_error(damaged, "corrupt", "triage train", classifying=section == "arrays")
    if section == "payload":
        assert Classifier.load(damaged).version == "tiny-test-model"


def test_corrupt_header_json(tiny_model_path: Path, tmp_path: Path) -> None:
    data = bytearray(tiny_model_path.read_bytes())
    data[len(b"TRIAGE-MODEL\n") + 4] = ord("#")  # the opening brace of the JSON header
    damaged = tmp_path / "header.model"
    damaged.write_bytes(bytes(data))
    assert_clear_error(damaged, "corrupt", "triage train")


@pytest.mark.parametrize(
    "length", [0, 5, len(b"TRIAGE-MODEL\n") + 2, len(b"TRIAGE-MODEL\n") + 4, 60, 0.5, 0.999]
)
def test_truncated_file(tiny_model_path: Path, tmp_path: Path, length: float) -> None:
    data = tiny_model_path.read_bytes()
    cut = int(len(data) * length) if isinstance(length, float) else length
    damaged = tmp_path / "truncated.model"
    damaged.write_bytes(data[:cut])
    assert_clear_error(damaged)


def test_header_length_pointing_past_the_end(tiny_model_path: Path, tmp_path: Path) -> None:
    data = bytearray(tiny_model_path.read_bytes())
    start = len(b"TRIAGE-MODEL\n")
    data[start : start + 4] = struct.pack(">I", 0xFFFFFFFF)
    damaged = tmp_path / "length.model"
    damaged.write_bytes(bytes(data))
    assert_clear_error(damaged, "triage train")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"TRIAGE-MODEL",
        b"NOT-A-MODEL\n\x00\x00\x00\x02{}",
        b"\x80\x04\x95 a raw pickle",
        b"PK\x03\x04 a zip file",
    ],
    ids=["empty", "magic-only", "wrong-magic", "pickle", "zip"],
)
def test_wrong_magic_or_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.model"
    path.write_bytes(content)
    assert_clear_error(path)


def test_wrong_magic_says_it_is_not_a_model(tiny_model_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "renamed.model"
    path.write_bytes(b"SOMETHING-ELSE\n" + tiny_model_path.read_bytes()[len(b"TRIAGE-MODEL\n") :])
    assert_clear_error(path, "not a triage model")


@pytest.mark.parametrize(
    "version",
    [
        modelfile.FORMAT_VERSION - 1,
        modelfile.FORMAT_VERSION + 1,
        0,
        99,
        str(modelfile.FORMAT_VERSION),
        None,
    ],
)
def test_incompatible_format_version(
    tiny_model_path: Path, tmp_path: Path, version: object
) -> None:
    path = edited_copy(tiny_model_path, tmp_path / "format.model", format_version=version)
    assert_clear_error(path, "format", "triage train")


@pytest.mark.parametrize("trained_with", ["0.24.2", "1.8.0", "2.0.0", "9.9", "", "garbage"])
def test_sklearn_version_mismatch_names_triage_train(
    tiny_model_path: Path, tmp_path: Path, trained_with: str
) -> None:
    path = edited_copy(tiny_model_path, tmp_path / "sklearn.model", sklearn_version=trained_with)
    assert_clear_error(path, "scikit-learn", sklearn.__version__, "triage train", classifying=False)
    # the arrays do not depend on scikit-learn: the model still classifies
    assert Classifier.load(path).version == "tiny-test-model"


def test_missing_sklearn_version_is_a_mismatch(tiny_model_path: Path, tmp_path: Path) -> None:
    header, arrays, payload = split_file(tiny_model_path.read_bytes())
    del header["sklearn_version"]
    path = tmp_path / "no-version.model"
    path.write_bytes(join_file(header, arrays, payload))
    assert_clear_error(path, "scikit-learn", "triage train", classifying=False)


def test_another_patch_release_of_sklearn_is_accepted(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    major, minor = sklearn.__version__.split(".")[:2]
    path = edited_copy(
        tiny_model_path, tmp_path / "patch.model", sklearn_version=f"{major}.{minor}.99"
    )
    assert model_store.load(path).version == "tiny-test-model"


def test_valid_checksum_over_a_payload_that_is_not_a_model(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """Every header check passes (a real model's header), but the payload is not a model."""
    header, arrays, _payload = split_file(tiny_model_path.read_bytes())
    payload = b"this is not a joblib pickle at all"
    header["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    header["payload_bytes"] = len(payload)
    path = tmp_path / "forged.model"
    path.write_bytes(join_file(header, arrays, payload))
    assert_clear_error(path, "could not be loaded", "triage train", classifying=False)


@pytest.mark.parametrize(
    "damage",
    [
        "object dtype",
        "offset past the end",
        "wrong size",
        "missing array",
        "index not a dict",
        "wrong shape",
    ],
)
def test_a_damaged_array_index_is_refused_before_any_array_is_used(
    tiny_model_path: Path, tmp_path: Path, damage: str
) -> None:
    """The index is in the header (checked by no checksum): whatever it says, classifying
    gets one clear error, never a Python object (dtype "O" would mean pickle) or a crash."""
    header, arrays, payload = split_file(tiny_model_path.read_bytes())
    index = header["arrays"]
    if damage == "object dtype":
        index["svm.coef"]["dtype"] = "|O"
    elif damage == "offset past the end":
        index["svm.coef"]["offset"] = len(arrays)
    elif damage == "wrong size":
        index["svm.coef"]["shape"] = [
            index["svm.coef"]["shape"][0] - 1,
            index["svm.coef"]["shape"][1],
        ]
    elif damage == "missing array":
        del index["chars.kept"]
    elif damage == "index not a dict":
        header["arrays"] = ["svm.coef"]
    else:  # the same numbers in one row: readable, but not an SVM over these features
        index["svm.coef"]["shape"] = [1, index["svm.coef"]["bytes"] // 8]
    path = tmp_path / "index.model"
    path.write_bytes(join_file(header, arrays, payload))
    with pytest.raises(ModelError) as caught:
        Classifier.load(path)
    _check_message(caught, path, ("triage train",))


def test_unreadable_paths(tmp_path: Path) -> None:
    assert_clear_error(tmp_path, "cannot read")  # a directory
    missing = tmp_path / "missing.model"
    assert_clear_error(missing, "cannot read", classifying=False)
    with pytest.raises(ModelError, match="no model at .*triage train"):
        Classifier.load(missing)


def test_cli_reports_a_damaged_model_in_one_line(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = edited_copy(tiny_model_path, tmp_path / "old.model", format_version=3)
    message = tmp_path / "m.eml"
    message.write_bytes(corpus()[0][0])
    code = main(["classify", "--model", str(path), str(message)])
    captured = capsys.readouterr()
    assert code == ModelError.exit_code != 0
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert [line for line in captured.err.splitlines() if line] == [
        line for line in captured.err.splitlines() if "triage train" in line
    ]


def test_model_trained_with_other_features_is_refused_with_a_clear_error(
    tiny_model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The code gained a signal since the model was trained (an upgrade, or features.py edited
    without `triage train`): the model must be refused as incompatible, not crash mid-predict."""
    extra = features.Signal("added_later", "is new", lambda _msg, _text: 0.0)
    monkeypatch.setattr(features, "SIGNALS", (*features.SIGNALS, extra))
    monkeypatch.setattr(features, "SIGNAL_NAMES", (*features.SIGNAL_NAMES, extra.name))
    monkeypatch.setattr(modelfile, "SIGNAL_NAMES", features.SIGNAL_NAMES)
    message = tmp_path / "m.eml"
    message.write_bytes(corpus()[0][0])
    try:
        code = main(["classify", "--model", str(tiny_model_path), str(message)])
    except Exception as exc:  # noqa: BLE001 - the point is that nothing escapes
        pytest.fail(f"classify crashed with {type(exc).__name__}: {exc}")
    captured = capsys.readouterr()
    assert code == ModelError.exit_code
    assert "triage train" in captured.err and "Traceback" not in captured.err


# ----------------------------------------------------------------------------- atomic save


def test_save_leaves_no_temporary_files(tiny_model_path: Path, tmp_path: Path) -> None:
    model = model_store.load(tiny_model_path)
    target = tmp_path / "out" / "triage.model"
    model_store.save(model, target)
    model_store.save(model, target)  # overwriting an existing model
    assert sorted(p.name for p in target.parent.iterdir()) == ["triage.model"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_save_keeps_the_old_model_and_cleans_up(
    tiny_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    model = model_store.load(tiny_model_path)
    target = tmp_path / "models" / "triage.model"
    target.parent.mkdir()
    target.write_bytes(b"the previous model")

    def fail(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError):
        model_store.save(model, target)
    monkeypatch.undo()
    assert target.read_bytes() == b"the previous model"
    assert sorted(p.name for p in target.parent.iterdir()) == ["triage.model"]


def test_the_shipped_models_digest_ships_beside_it() -> None:
    """`triage learn` trusts the shipped model by this digest; `triage train` rewrites both."""
    shipped = shipped_model_path()
    recorded = modelfile.digest_beside(shipped).read_text("ascii").strip()
    assert recorded == modelfile.read_metadata(shipped)["payload_sha256"]
