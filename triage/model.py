"""The classifier model: one scikit-learn Pipeline for the class, one head for the offenses.

A model file is a self-describing envelope: a magic line, a JSON metadata block (format version,
scikit-learn version, classes, training-data fingerprint, metrics, payload checksum) and the joblib
payload. Everything is checked *before* anything is unpickled, so a corrupt, truncated or
incompatible file gives one clear error instead of a traceback from inside pickle. joblib uses
pickle: only load model files this program wrote or that the user explicitly trusts.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from triage.charngrams import HashedCharNgrams
from triage.errors import ModelError
from triage.features import SIGNAL_NAMES, prepare
from triage.files import write_atomically
from triage.message import Message
from triage.offenses import OFFENSES, OffenseHead, OffenseScores

FORMAT_VERSION = 3
MAGIC = b"TRIAGE-MODEL\n"
LABELS = ("relationship", "solicitation", "other")
SIGNAL_WEIGHT = 1.5  # structural signals are few; weight them so the n-grams cannot drown them
CHAR_TEXT = 800  # character n-grams read the opening, where greetings and templates show


def signals_as_float(rows: np.ndarray) -> sparse.csr_matrix:
    """ColumnTransformer hands over object columns; the classifier wants floats."""
    return sparse.csr_matrix(np.asarray(rows, dtype=np.float64))


def build_features() -> ColumnTransformer:
    signal_columns = list(range(1, 1 + len(SIGNAL_NAMES)))
    return ColumnTransformer(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.5,
                                      sublinear_tf=True, max_features=30_000,
                                      dtype=np.float32), 0),
            ("chars", HashedCharNgrams(ngram_range=(3, 5), max_chars=CHAR_TEXT, min_df=3), 0),
            ("signals", FunctionTransformer(signals_as_float), signal_columns),
        ],
        transformer_weights={"words": 1.0, "chars": 1.0, "signals": SIGNAL_WEIGHT},
        sparse_threshold=1.0,
    )


def build_pipeline() -> Pipeline:
    svm = LinearSVC(C=1.0, class_weight="balanced", random_state=0)
    calibrated = CalibratedClassifierCV(svm, method="sigmoid", cv=5, ensemble=False)
    return Pipeline([("features", build_features()), ("classifier", calibrated)])


def _drop_stop_words(pipeline: Pipeline) -> None:
    """TfidfVectorizer keeps every pruned term for introspection only, which bloats the file,
    and a cache key derived from an object's memory address (set again by every transform),
    which would make two trainings on the same data write different bytes."""
    for _name, transformer, _cols in pipeline.named_steps["features"].transformers_:
        if isinstance(transformer, TfidfVectorizer):
            for attribute in ("stop_words_", "_stop_words_id"):
                if hasattr(transformer, attribute):
                    delattr(transformer, attribute)


@dataclass(frozen=True)
class TrainingSet:
    """What a model was fitted on, kept inside the model file: a personal model is the shipped
    training set plus the user's corrections, so it can be rebuilt on any install, including one
    that has no training_data/ directory."""

    rows: np.ndarray                       # prepare() output: model text, then the signals
    labels: tuple[str, ...]
    offenses: tuple[tuple[str, ...], ...]
    weights: tuple[float, ...] = ()        # empty means all 1.0


@dataclass
class Model:
    """A trained pipeline, its offense head and the metadata that travels with them.

    The training set is stored in the file as a nested, still-pickled blob and only unpickled
    when asked for (by `triage learn`), so classifying never pays for it at start-up.
    """

    pipeline: Pipeline
    offense_head: OffenseHead
    metadata: dict[str, Any] = field(default_factory=dict)
    _training_set: TrainingSet | bytes | None = None

    @property
    def training_set(self) -> TrainingSet | None:
        if isinstance(self._training_set, bytes):
            loaded: TrainingSet = joblib.load(io.BytesIO(self._training_set))
            self._training_set = loaded
        return self._training_set

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unversioned"))

    def features(self, messages: Sequence[Message]) -> sparse.csr_matrix:
        return self.pipeline.named_steps["features"].transform(prepare(messages))

    def scores(self, x: sparse.csr_matrix) -> tuple[list[dict[str, float]], list[OffenseScores]]:
        """Class probabilities and offense scores for each row of a feature matrix."""
        classifier = self.pipeline.named_steps["classifier"]
        classes = [str(c) for c in classifier.classes_]
        class_rows = [dict(zip(classes, map(float, row), strict=True))
                      for row in classifier.predict_proba(x)]
        return class_rows, self.offense_head.predict(x)

    def linear_weights(self) -> tuple[np.ndarray, list[str], list[str]]:
        """Coefficients of the underlying linear classifier: (coef, class names, feature names)."""
        classifier = self.pipeline.named_steps["classifier"]
        svm = classifier.calibrated_classifiers_[0].estimator
        features = self.pipeline.named_steps["features"]
        names: list[str] = []
        for name, transformer, _cols in features.transformers_:
            if name == "signals":
                names += [f"signal:{s}" for s in SIGNAL_NAMES]
            elif isinstance(transformer, HashedCharNgrams):
                # Hash buckets explain nothing to a person and are never shown: one shared
                # name for all of them instead of ~100k strings (~15 MB) held by the daemon.
                names += [f"{name}:"] * len(transformer.idf_)
            else:
                names += [f"{name}:{t}" for t in transformer.get_feature_names_out()]
        return svm.coef_, [str(c) for c in svm.classes_], names


def train(
    messages: Sequence[Message],
    labels: Sequence[str],
    offenses: Sequence[Sequence[str]],
    sample_weight: Sequence[float] | None = None,
) -> Model:
    """Fit the class pipeline and the offense heads (see triage.offenses)."""
    return train_rows(TrainingSet(prepare(messages), tuple(labels),
                                  tuple(tuple(o) for o in offenses),
                                  tuple(sample_weight or ())))


def train_rows(training_set: TrainingSet) -> Model:
    """Fit on already prepared rows; the model keeps them for later retraining."""
    labels = np.asarray(training_set.labels)
    pipeline = build_pipeline()
    fit_params = {}
    if training_set.weights:
        fit_params["classifier__sample_weight"] = np.asarray(training_set.weights, dtype=float)
    pipeline.fit(training_set.rows, labels, **fit_params)
    x = pipeline.named_steps["features"].transform(training_set.rows)
    head = OffenseHead(_word_and_signal_columns(pipeline))
    head.fit(x, training_set.offenses, labels == "solicitation")
    return Model(pipeline=pipeline, offense_head=head, _training_set=training_set)


def _word_and_signal_columns(pipeline: Pipeline) -> np.ndarray:
    features = pipeline.named_steps["features"]
    widths = {name: len(t.get_feature_names_out()) if name != "signals" else len(SIGNAL_NAMES)
              for name, t, _cols in features.transformers_}
    columns, start = [], 0
    for name, _t, _cols in features.transformers_:
        if name != "chars":
            columns.append(np.arange(start, start + widths[name]))
        start += widths[name]
    return np.concatenate(columns)


def save(model: Model, path: Path) -> None:
    """Write atomically: a crash mid-write never leaves a half-written model in place."""
    _drop_stop_words(model.pipeline)
    buffer = io.BytesIO()
    training_blob = io.BytesIO()
    joblib.dump(model.training_set, training_blob, compress=3)
    joblib.dump({"pipeline": model.pipeline, "offense_head": model.offense_head,
                 "training_set": training_blob.getvalue()}, buffer, compress=3)
    payload = buffer.getvalue()
    metadata = dict(model.metadata)
    metadata.update(
        format_version=FORMAT_VERSION,
        sklearn_version=sklearn.__version__,
        classes=list(LABELS),
        offenses=list(OFFENSES),
        signals=list(SIGNAL_NAMES),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
    )
    header = json.dumps(metadata, sort_keys=True).encode()
    write_atomically(path, MAGIC + struct.pack(">I", len(header)) + header + payload)


def read_metadata(path: Path) -> tuple[dict[str, Any], bytes]:
    """The metadata and the still-pickled payload, verified; raises ModelError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise ModelError(f"{path} is not a triage model file")
    (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    try:
        metadata = json.loads(data[start : start + length])
    except (ValueError, UnicodeDecodeError):
        raise ModelError(f"{path} has a corrupt header; retrain with `triage train`") from None
    payload = data[start + length :]
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path} has model format {metadata.get('format_version')}, this triage reads "
            f"format {FORMAT_VERSION}; retrain with `triage train`"
        )
    trained_with = str(metadata.get("sklearn_version", "?"))
    if trained_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelError(
            f"{path} was trained with scikit-learn {trained_with} but {sklearn.__version__} is "
            f"installed; retrain with `triage train` or install scikit-learn {trained_with}"
        )
    if metadata.get("signals") != list(SIGNAL_NAMES):
        raise ModelError(
            f"{path} was trained with different message signals than this triage computes; "
            f"retrain with `triage train`"
        )
    if hashlib.sha256(payload).hexdigest() != metadata.get("payload_sha256"):
        raise ModelError(f"{path} is corrupt (checksum mismatch); retrain with `triage train`")
    return metadata, payload


def load(path: Path) -> Model:
    metadata, payload = read_metadata(path)
    try:
        parts = joblib.load(io.BytesIO(payload))
        return Model(parts["pipeline"], parts["offense_head"], metadata, parts["training_set"])
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same to the user
        raise ModelError(f"{path} could not be loaded ({type(exc).__name__}); retrain with "
                         f"`triage train`") from None
