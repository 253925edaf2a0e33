"""The offense heads train and predict on any corpus, however few offenses it holds."""

from __future__ import annotations

import pytest

from triage.decide.offenses import OFFENSES
from triage.message.parse import parse_message
from triage.training import pipeline as model_store

LABELS = ["relationship"] * 8 + ["solicitation"] * 8 + ["other"] * 8


def _messages() -> list:
    """Eight of each class; among the solicitation, 8-11 recruit for MLM and 12-15 sell."""

    def words(i: int) -> str:
        if i < 8:
            return "thanks for the coffee"
        if i < 12:
            return "join my team and earn extra income from your phone"
        if i < 16:
            return "book a demo of our invoicing software"
        return "your order has shipped"

    return [
        parse_message(f"From: p{i}@example.org\nSubject: note {i}\n\n{words(i)} {i}\n".encode())
        for i in range(24)
    ]


@pytest.mark.parametrize(
    "offenses",
    [
        [()] * 24,  # no offense at all
        [()] * 8 + [("mlm-recruiting",)] * 8 + [()] * 8,  # every solicitation offends
        [()] * 8 + [("mlm-recruiting",)] * 4 + [()] * 12,  # one offense, some messages
    ],
    ids=["none", "all", "some"],
)
def test_offense_heads_fit_tiny_corpora(offenses: list) -> None:
    messages = _messages()
    model = model_store.train(messages, LABELS, offenses)
    scores = model.offense_head.predict(model.features(messages))
    assert len(scores) == len(messages)
    for score in scores:
        assert 0.0 <= score.worst <= 1.0
        assert set(score.by_offense) == set(OFFENSES)
    seen = {code for row in offenses for code in row}
    for code in set(OFFENSES) - seen:  # never seen in training: never named
        assert all(score.by_offense[code] == 0.0 for score in scores)
    if seen:
        mlm = [score.worst for score, row in zip(scores, offenses, strict=True) if row]
        clean = [score.worst for score, row in zip(scores, offenses, strict=True) if not row]
        assert min(mlm) > max(clean)
