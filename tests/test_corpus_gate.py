"""The not-networking gate on real mail: the SpamAssassin public corpus in ../shared/corpora.

Done-when criteria of the classifier issue: `ham` and `hard-ham` come out `other` for at least
97%, and `spam` is `relationship` for at most 2%. Every file must parse and classify.

The model is, in order: $TRIAGE_GATE_MODEL if set; the shipped model (models/triage.model);
otherwise one trained here from training_data/ (cached in pytest's cache directory, keyed on the
training data and the code that shapes the model, because training takes minutes); otherwise the
tests skip with the reason. With the shipped model the module runs in a few seconds.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sklearn

from triage.commands.classify import classify_stream
from triage.commands.inputs import iter_messages
from triage.decide.policy import Decision
from triage.model.classifier import Classifier, shipped_model_path
from triage.training import pipeline as model_store

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "spamassassin"
TRAINING_DATA = REPO / "training_data"
MIN_OTHER = {"ham": 0.97, "hard-ham": 0.97}
MAX_SPAM_RELATIONSHIP = 0.02
# Source files whose changes make a cached model stale.
MODEL_SOURCES = (
    "model.py",
    "features.py",
    "charngrams.py",
    "offenses.py",
    "message.py",
    "quoting.py",
    "htmltext.py",
    "training.py",
)

pytestmark = [pytest.mark.corpus, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Outcome:
    path: str
    decision: Decision | None
    error: str


def _training_key() -> str:
    digest = hashlib.sha256(sklearn.__version__.encode())
    digest.update((TRAINING_DATA / "labels.csv").read_bytes())
    for path in sorted((TRAINING_DATA / "messages").glob("*.eml")):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in MODEL_SOURCES:
        source = REPO / "triage" / name
        if source.exists():
            digest.update(name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def _train_cached(cache_dir: Path) -> Path:
    from triage.training.corpora import fit, load_labelled

    path = cache_dir / f"gate-{_training_key()}.model"
    if not path.exists():
        model = fit(load_labelled(TRAINING_DATA))
        model.metadata["version"] = path.stem
        model_store.save(model, path)
        for stale in cache_dir.glob("gate-*.model"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return path


@pytest.fixture(scope="module")
def gate_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the SpamAssassin corpus is not at {CORPUS}")
    explicit = os.environ.get("TRIAGE_GATE_MODEL")
    if explicit:
        return Path(explicit)
    shipped = shipped_model_path()
    if shipped.exists():
        return shipped
    if not (TRAINING_DATA / "labels.csv").exists():
        pytest.skip(
            f"no shipped model at {shipped} and no {TRAINING_DATA / 'labels.csv'} to train one from"
        )
    cache = getattr(request.config, "cache", None)
    cache_dir = (
        cache.mkdir("triage-corpus-gate")
        if cache is not None
        else tmp_path_factory.mktemp("gate-model")
    )
    return _train_cached(Path(cache_dir))


@pytest.fixture(scope="module")
def outcomes(gate_model: Path) -> dict[str, list[Outcome]]:
    """Every corpus file through the same path as `triage classify`, by folder."""
    classifier = Classifier.load(gate_model)
    results: dict[str, list[Outcome]] = {}
    for folder in ("ham", "hard-ham", "spam"):
        stream = classify_stream(classifier, iter_messages([str(CORPUS / folder)]))
        results[folder] = [Outcome(path, decision, error) for path, _msg, decision, error in stream]
    return results


def _examples(items: Iterator[Outcome] | list[Outcome], limit: int = 8) -> str:
    lines = []
    for outcome in list(items)[:limit]:
        d = outcome.decision
        detail = (
            outcome.error
            if d is None
            else (f"{d.label} {d.confidence:.2f} " + "; ".join(d.reasons[:2]))
        )
        lines.append(f"  {Path(outcome.path).relative_to(CORPUS)}: {detail}")
    return "\n".join(lines)


def test_every_file_parses_and_classifies(outcomes: dict[str, list[Outcome]]) -> None:
    for folder, results in outcomes.items():
        files = sorted(p for p in (CORPUS / folder).rglob("*.eml") if p.is_file())
        assert len(results) == len(files), folder
        failed = [o for o in results if o.decision is None]
        assert not failed, f"{len(failed)} {folder} files failed:\n{_examples(failed)}"


@pytest.mark.parametrize("folder", sorted(MIN_OTHER))
def test_ham_is_other(outcomes: dict[str, list[Outcome]], folder: str) -> None:
    results = [o for o in outcomes[folder] if o.decision is not None]
    wrong = [o for o in results if o.decision.label != "other"]
    share = 1 - len(wrong) / len(results)
    assert share >= MIN_OTHER[folder], (
        f"{folder}: {share:.1%} other (need {MIN_OTHER[folder]:.0%}); "
        f"{len(wrong)} of {len(results)} wrong, e.g.:\n{_examples(wrong)}"
    )


def test_spam_is_not_relationship(outcomes: dict[str, list[Outcome]]) -> None:
    results = [o for o in outcomes["spam"] if o.decision is not None]
    wrong = [o for o in results if o.decision.label == "relationship"]
    share = len(wrong) / len(results)
    assert share <= MAX_SPAM_RELATIONSHIP, (
        f"spam: {share:.1%} relationship (at most {MAX_SPAM_RELATIONSHIP:.0%}); "
        f"{len(wrong)} of {len(results)}, e.g.:\n{_examples(wrong)}"
    )


@pytest.mark.parametrize("folder", sorted(MIN_OTHER))
def test_no_feedback_draft_for_ordinary_mail(
    outcomes: dict[str, list[Outcome]], folder: str
) -> None:
    """`draft` is false for every `other` message: ham is ordinary mail, never a draft."""
    drafted = [o for o in outcomes[folder] if o.decision is not None and o.decision.draft]
    assert not drafted, f"{len(drafted)} {folder} messages would get a draft:\n{_examples(drafted)}"
