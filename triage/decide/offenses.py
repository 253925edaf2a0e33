"""The offense codes (domain.md) and what the model says about them for one message.

The heads that compute these scores are trained in triage.training.estimators; classifying
reads their weights from the model file (triage.model.inference).
"""

from __future__ import annotations

from dataclasses import dataclass

OFFENSES = (
    "introduction-ask",
    "network-harvesting",
    "referral-bounty",
    "mlm-recruiting",
    "what-can-you-do-for-me",
    "pitch-on-introduction",
)


@dataclass
class OffenseScores:
    worst: float  # probability that this is a worst offender
    by_offense: dict[str, float]  # probability of each offense code
