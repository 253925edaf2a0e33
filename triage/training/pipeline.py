"""The classifier model: one scikit-learn Pipeline for the class, one head for the offenses.

Training happens here; classifying does not import this module. `save` writes the fitted
pipeline, heads and training rows with joblib as the model file's payload, and next to it the
fitted numbers `export` takes out of them, which triage.model.inference computes with (file layout:
triage.model.modelfile). `load` unpickles the payload, for retraining (`triage learn`) and tests:
joblib uses pickle, so only load model files this program wrote or that the user trusts.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import triage.model
from triage.decide.offenses import OFFENSES, OffenseScores
from triage.errors import ModelError
from triage.message.parse import Message
from triage.model import charngrams, modelfile
from triage.model.features import SIGNAL_NAMES, prepare
from triage.model.inference import InferenceModel, encode_terms
from triage.training import estimators
from triage.training.estimators import (
    HashedCharNgrams,
    OffenseHead,
    SparseColumns,
    probability_of_true,
)

LABELS = ("relationship", "solicitation", "other")
SIGNAL_WEIGHT = 1.5  # structural signals are few; weight them so the n-grams cannot drown them
SIGNALS_DTYPE = np.float32
SVM_C = 1.2  # the SVM's alpha is 1 / (C * messages): 1e-4 on the 8,320-message corpus
SVM_PASSES = 30
SVM_STEPS = 250_000  # about 30 passes over the 8,320-message corpus
CHAR_TEXT = 800  # character n-grams read the opening, where greetings and templates show


# the TfidfVectorizer settings triage.model.inference reproduces
_WORD_SETTINGS = {
    "input": "content",
    "analyzer": "word",
    "preprocessor": None,
    "tokenizer": None,
    "lowercase": True,
    "strip_accents": None,
    "stop_words": None,
    "binary": False,
    "token_pattern": r"(?u)\b\w\w+\b",
    "norm": "l2",
    "use_idf": True,
    "sublinear_tf": True,
}


def signals_as_float(rows: np.ndarray) -> sparse.csr_matrix:
    """ColumnTransformer hands over object columns; the classifier wants floats (float32, as
    the n-gram blocks are, so that stacking them keeps the matrix at half the size)."""
    return sparse.csr_matrix(np.asarray(rows, dtype=SIGNALS_DTYPE))


def build_features() -> SparseColumns:
    signal_columns = list(range(1, 1 + len(SIGNAL_NAMES)))
    return SparseColumns(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    min_df=2,
                    max_df=0.5,
                    sublinear_tf=True,
                    max_features=30_000,
                    dtype=np.float32,
                ),
                0,
            ),
            ("chars", HashedCharNgrams(ngram_range=(3, 5), max_chars=CHAR_TEXT, min_df=3), 0),
            ("signals", FunctionTransformer(signals_as_float), signal_columns),
        ],
        # weights for the signals only: ColumnTransformer copies every block it weighs, even
        # by 1.0, and the copies of the n-gram blocks were a sixth of training's peak memory
        transformer_weights={"signals": SIGNAL_WEIGHT},
        sparse_threshold=1.0,
    )


def build_pipeline(n_messages: int) -> Pipeline:
    # A linear SVM (hinge loss) fitted by averaged stochastic gradient descent. It reads the
    # float32 feature matrix where it lies, where liblinear's LinearSVC made a float64 copy
    # and then its own (16 bytes a non-zero): training's peak fell from 550 to 372 MB. On real
    # mail it is level with LinearSVC or slightly ahead (five seeds, docs/evaluation.md);
    # more passes move it back towards LinearSVC on both the meter and held-out writers.
    # Regularisation keeps its strength as the corpus grows or shrinks, as an SVM's C does (a
    # fixed alpha left a small corpus all but unregularised), and a small corpus gets at least
    # as many steps as 30 passes over the shipped corpus take, so that it converges too.
    n = max(n_messages, 1)
    svm = SGDClassifier(
        loss="hinge",
        alpha=1 / (SVM_C * n),
        class_weight="balanced",
        average=True,
        max_iter=max(SVM_PASSES, SVM_STEPS // n),
        tol=None,
        random_state=0,
    )
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

    rows: np.ndarray  # prepare() output: model text, then the signals
    labels: tuple[str, ...]
    offenses: tuple[tuple[str, ...], ...]
    weights: tuple[float, ...] = ()  # empty means all 1.0


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
        class_rows = [
            dict(zip(classes, map(float, row), strict=True)) for row in classifier.predict_proba(x)
        ]
        return class_rows, self.offense_head.predict(x)

    def export(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The fitted numbers triage.model.inference classifies with: (spec, arrays)."""
        return export(self.pipeline, self.offense_head)

    def inference(self) -> InferenceModel:
        return InferenceModel(*self.export())


def train(
    messages: Sequence[Message],
    labels: Sequence[str],
    offenses: Sequence[Sequence[str]],
    sample_weight: Sequence[float] | None = None,
) -> Model:
    """Fit the class pipeline and the offense heads (see triage.decide.offenses)."""
    return train_rows(
        TrainingSet(
            prepare(messages),
            tuple(labels),
            tuple(tuple(o) for o in offenses),
            tuple(sample_weight or ()),
        )
    )


def train_rows(training_set: TrainingSet) -> Model:
    """Fit on already prepared rows; the model keeps them for later retraining."""
    labels = np.asarray(training_set.labels)
    pipeline = build_pipeline(len(labels))
    fit_params = {}
    if training_set.weights:
        fit_params["sample_weight"] = np.asarray(training_set.weights, dtype=float)
    # What Pipeline.fit does, keeping the feature matrix for the offense heads instead of
    # computing it a second time.
    x = pipeline.named_steps["features"].fit_transform(training_set.rows, labels)
    pipeline.named_steps["classifier"].fit(x, labels, **fit_params)
    head = OffenseHead(_word_and_signal_columns(pipeline))
    head.fit(x, training_set.offenses, labels == "solicitation")
    return Model(pipeline=pipeline, offense_head=head, _training_set=training_set)


def _word_and_signal_columns(pipeline: Pipeline) -> np.ndarray:
    features = pipeline.named_steps["features"]
    widths = {
        name: len(t.get_feature_names_out()) if name != "signals" else len(SIGNAL_NAMES)
        for name, t, _cols in features.transformers_
    }
    columns, start = [], 0
    for name, _t, _cols in features.transformers_:
        if name != "chars":
            columns.append(np.arange(start, start + widths[name]))
        start += widths[name]
    return np.concatenate(columns)


def export(pipeline: Pipeline, head: OffenseHead) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Take the fitted numbers out of the pipeline `build_pipeline` makes and its offense head;
    ModelError when they have another shape (a setting triage.model.inference does not compute)."""
    features = pipeline.named_steps["features"]
    classifier = pipeline.named_steps["classifier"]
    transformers: dict[str, Any] = {name: t for name, t, _cols in features.transformers_}
    words: Any = transformers.get("words")
    chars: Any = transformers.get("chars")
    weights = features.transformer_weights or {}
    calibrated = classifier.calibrated_classifiers_[0]
    svm = calibrated.estimator
    if not (
        [name for name, _t, _c in features.transformers_] == ["words", "chars", "signals"]
        and type(words) is TfidfVectorizer
        and type(chars) is HashedCharNgrams
        and words.get_params() | _WORD_SETTINGS == words.get_params()
        and tuple(words.ngram_range) in ((1, 1), (1, 2))
        and weights.get("words", 1) == 1
        and weights.get("chars", 1) == 1
        and type(classifier) is CalibratedClassifierCV
        and classifier.method == "sigmoid"
        and len(classifier.calibrated_classifiers_) == 1
        and type(svm) is SGDClassifier
        and svm.loss == "hinge"
        and list(calibrated.classes) == list(classifier.classes_)
        and np.array_equal(head.columns, _word_and_signal_columns(pipeline))
    ):
        raise ModelError("the model's pipeline has a shape triage cannot classify with")
    # where CalibratedClassifierCV puts each calibrated SVM column
    classes = [str(c) for c in calibrated.classes]
    column = np.array([classes.index(str(c)) for c in svm.classes_], dtype=np.int64)
    kinds, constants, coefs, intercepts = [], [], [], []
    for estimator in [head.worst, *(head.each.get(code) for code in OFFENSES)]:
        if type(estimator) is LogisticRegression and list(estimator.classes_) == [False, True]:
            kinds.append("linear")
            constants.append(0.0)
            coefs.append(estimator.coef_[0])
            intercepts.append(estimator.intercept_[0])
        else:  # absent (no example of the offense) or a DummyClassifier: a constant
            kinds.append("constant")
            constants.append(
                0.0
                if estimator is None
                else float(probability_of_true(estimator, np.zeros((1, 1)))[0])
            )
    n_head_columns = len(head.columns)
    spec = {
        "classes": [str(c) for c in classifier.classes_],
        "svm_classes": [str(c) for c in svm.classes_],
        "words_dtype": np.dtype(words.dtype).name,
        "signals_dtype": np.dtype(SIGNALS_DTYPE).name,
        "chars": {
            "ngram_range": list(chars.ngram_range),
            "bits": chars.bits,
            "max_chars": chars.max_chars,
        },
        "signal_weight": float(weights.get("signals", 1)),
        "heads": kinds,
    }
    arrays = {
        "words.terms": encode_terms(list(words.get_feature_names_out())),
        "words.idf": words.idf_,
        "chars.kept": chars.tfidf_.kept,
        "chars.idf": chars.tfidf_.idf,
        "svm.coef": svm.coef_,
        "svm.intercept": svm.intercept_,
        "calibration.column": column,
        "calibration.a": np.array([c.a_ for c in calibrated.calibrators], dtype=np.float64),
        "calibration.b": np.array([c.b_ for c in calibrated.calibrators], dtype=np.float64),
        "heads.coef": np.array(coefs, dtype=np.float64).T.reshape(n_head_columns, len(coefs)),
        "heads.intercept": np.array(intercepts, dtype=np.float64),
        "heads.constant": np.array(constants, dtype=np.float64),
    }
    return spec, arrays


def save(model: Model, path: Path) -> None:
    """Write atomically: a crash mid-write never leaves a half-written model in place."""
    _drop_stop_words(model.pipeline)
    spec, arrays = model.export()
    buffer = io.BytesIO()
    training_blob = io.BytesIO()
    joblib.dump(model.training_set, training_blob, compress=3)
    joblib.dump(
        {
            "pipeline": model.pipeline,
            "offense_head": model.offense_head,
            "training_set": training_blob.getvalue(),
        },
        buffer,
        compress=3,
    )
    metadata = dict(model.metadata)
    metadata.update(
        sklearn_version=sklearn.__version__,
        classes=list(LABELS),
        offenses=list(OFFENSES),
        inference=spec,
    )
    modelfile.write(path, metadata, arrays, buffer.getvalue())


def load(path: Path, trusted: frozenset[str] | None = None) -> Model:
    """The fitted scikit-learn objects and training rows; for retraining, not for classifying.

    Unpickling runs code: `triage learn` passes the digests of the models triage wrote
    (modelfile.trusted_digests) and any other file is refused unread. Without `trusted`, the
    caller vouches for the file (tests, models trained in the same process's run)."""
    metadata, payload = (
        modelfile.read_payload(path)
        if trusted is None
        else modelfile.read_trusted_payload(path, trusted)
    )
    trained_with = str(metadata.get("sklearn_version", "?"))
    if trained_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelError(
            f"{path} was trained with scikit-learn {trained_with} but {sklearn.__version__} is "
            f"installed; retrain with `triage train` or install scikit-learn {trained_with}"
        )
    _answer_to_former_names()
    try:
        parts = joblib.load(io.BytesIO(payload))
        return Model(parts["pipeline"], parts["offense_head"], metadata, parts["training_set"])
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same to the user
        raise ModelError(
            f"{path} could not be loaded ({type(exc).__name__}); retrain with `triage train`"
        ) from None


def _answer_to_former_names() -> None:
    """A pickle names the module each object came from, and model files written before triage
    was laid out in subpackages (the shipped model, every personal model made until then) use
    the old names: triage.estimators, triage.charngrams and triage.model (now a package, where
    only training code puts `signals_as_float`, so classifying never imports this module)."""
    sys.modules.setdefault("triage.estimators", estimators)
    sys.modules.setdefault("triage.charngrams", charngrams)
    triage.model.signals_as_float = signals_as_float  # type: ignore[attr-defined]
