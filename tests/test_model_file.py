"""Model files: a self-describing envelope checked before anything is unpickled.

Layout (triage.model): MAGIC, a 4-byte big-endian header length, the JSON header, the joblib
payload. Every way a file can be damaged or outdated must give one clear ModelError, and saving
must be atomic.
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

from triage import features
from triage import model as model_store
from triage.classifier import Classifier
from triage.cli import main
from triage.errors import ModelError
from triage.features import prepare
from triage.message import parse_message


def split_file(data: bytes) -> tuple[dict, bytes]:
    """(header, payload) of a model file, parsed independently of triage.model."""
    assert data.startswith(b"TRIAGE-MODEL\n")
    start = len(b"TRIAGE-MODEL\n")
    (length,) = struct.unpack(">I", data[start : start + 4])
    header = json.loads(data[start + 4 : start + 4 + length])
    return header, data[start + 4 + length :]


def join_file(header: dict, payload: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return b"TRIAGE-MODEL\n" + struct.pack(">I", len(encoded)) + encoded + payload


def edited_copy(source: Path, target: Path, **changes: object) -> Path:
    header, payload = split_file(source.read_bytes())
    header.update(changes)
    target.write_bytes(join_file(header, payload))
    return target


def assert_clear_error(path: Path, *fragments: str) -> ModelError:
    with pytest.raises(ModelError) as caught:
        model_store.load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


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
    np.testing.assert_array_equal(classifier.predict(x_original),
                                  copy.pipeline.named_steps["classifier"].predict(x_copy))
    assert len(prepare(messages)) == len(labels) == len(offenses)


def test_metadata_travels_with_the_model(tiny_model_path: Path) -> None:
    header, payload = split_file(tiny_model_path.read_bytes())
    assert header["format_version"] == model_store.FORMAT_VERSION
    assert header["sklearn_version"] == sklearn.__version__
    assert header["classes"] == list(model_store.LABELS)
    assert header["offenses"] == list(model_store.OFFENSES)
    assert header["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert header["version"] == "tiny-test-model"  # set by the trainer, kept by save
    loaded = model_store.load(tiny_model_path)
    assert loaded.version == "tiny-test-model"
    assert loaded.metadata["training_messages"] == len(corpus()[0])
    metadata, raw_payload = model_store.read_metadata(tiny_model_path)
    assert metadata == header and raw_payload == payload


def test_classifier_loads_a_saved_model(tiny_model_path: Path) -> None:
    classifier = Classifier.load(tiny_model_path)
    decisions = classifier.classify([parse_message(corpus()[0][0])])
    assert decisions[0].model_version == "tiny-test-model"
    assert classifier.classify([]) == []


# -------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9, 1.0])
def test_flipped_payload_bytes_are_a_checksum_error(
    tiny_model_path: Path, tmp_path: Path, where: float
) -> None:
    data = bytearray(tiny_model_path.read_bytes())
    header, payload = split_file(bytes(data))
    offset = len(data) - len(payload) + min(int(len(payload) * where), len(payload) - 1)
    data[offset] ^= 0xFF
    damaged = tmp_path / "flipped.model"
    damaged.write_bytes(bytes(data))
    assert_clear_error(damaged, "corrupt", "triage train")


def test_corrupt_header_json(tiny_model_path: Path, tmp_path: Path) -> None:
    data = bytearray(tiny_model_path.read_bytes())
    data[len(b"TRIAGE-MODEL\n") + 4] = ord("#")  # the opening brace of the JSON header
    damaged = tmp_path / "header.model"
    damaged.write_bytes(bytes(data))
    assert_clear_error(damaged, "corrupt", "triage train")


@pytest.mark.parametrize(
    "length", [0, 5, len(b"TRIAGE-MODEL\n") + 2, len(b"TRIAGE-MODEL\n") + 4, 60, 0.5, 0.999])
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
    [b"", b"TRIAGE-MODEL", b"NOT-A-MODEL\n\x00\x00\x00\x02{}", b"\x80\x04\x95 a raw pickle",
     b"PK\x03\x04 a zip file"],
    ids=["empty", "magic-only", "wrong-magic", "pickle", "zip"],
)
def test_wrong_magic_or_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.model"
    path.write_bytes(content)
    assert_clear_error(path)


def test_wrong_magic_says_it_is_not_a_model(tiny_model_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "renamed.model"
    path.write_bytes(b"SOMETHING-ELSE\n" + tiny_model_path.read_bytes()[len(b"TRIAGE-MODEL\n"):])
    assert_clear_error(path, "not a triage model")


@pytest.mark.parametrize(
    "version",
    [model_store.FORMAT_VERSION - 1, model_store.FORMAT_VERSION + 1, 0, 99,
     str(model_store.FORMAT_VERSION), None],
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
    assert_clear_error(path, "scikit-learn", sklearn.__version__, "triage train")


def test_missing_sklearn_version_is_a_mismatch(tiny_model_path: Path, tmp_path: Path) -> None:
    header, payload = split_file(tiny_model_path.read_bytes())
    del header["sklearn_version"]
    path = tmp_path / "no-version.model"
    path.write_bytes(join_file(header, payload))
    assert_clear_error(path, "scikit-learn", "triage train")


def test_another_patch_release_of_sklearn_is_accepted(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    major, minor = sklearn.__version__.split(".")[:2]
    path = edited_copy(tiny_model_path, tmp_path / "patch.model",
                       sklearn_version=f"{major}.{minor}.99")
    assert model_store.load(path).version == "tiny-test-model"


def test_valid_checksum_over_a_payload_that_is_not_a_model(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """Every header check passes (a real model's header), but the payload is not a model."""
    header, _payload = split_file(tiny_model_path.read_bytes())
    payload = b"this is not a joblib pickle at all"
    header["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    path = tmp_path / "forged.model"
    path.write_bytes(join_file(header, payload))
    assert_clear_error(path, "could not be loaded", "triage train")


def test_unreadable_paths(tmp_path: Path) -> None:
    assert_clear_error(tmp_path, "cannot read")  # a directory
    missing = tmp_path / "missing.model"
    assert_clear_error(missing, "cannot read")
    with pytest.raises(ModelError, match="triage train"):
        Classifier.load(missing)


def test_cli_reports_a_damaged_model_in_one_line(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = edited_copy(tiny_model_path, tmp_path / "old.model", sklearn_version="0.24.2")
    message = tmp_path / "m.eml"
    message.write_bytes(corpus()[0][0])
    code = main(["classify", "--model", str(path), str(message)])
    captured = capsys.readouterr()
    assert code == ModelError.exit_code != 0
    assert captured.out == ""
    assert "Traceback" not in captured.err
    assert [line for line in captured.err.splitlines() if line] == [
        line for line in captured.err.splitlines() if "triage train" in line]


def test_model_trained_with_other_features_is_refused_with_a_clear_error(
    tiny_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The code gained a signal since the model was trained (an upgrade, or features.py edited
    without `triage train`): the model must be refused as incompatible, not crash mid-predict."""
    extra = features.Signal("added_later", "is new", lambda _msg, _text: 0.0)
    monkeypatch.setattr(features, "SIGNALS", (*features.SIGNALS, extra))
    monkeypatch.setattr(features, "SIGNAL_NAMES", (*features.SIGNAL_NAMES, extra.name))
    monkeypatch.setattr(model_store, "SIGNAL_NAMES", features.SIGNAL_NAMES)
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
