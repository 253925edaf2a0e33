"""Allow and deny lists: senders whose mail skips the model's verdict.

`[lists]` in the config names addresses and domains that are always relationship, always
solicitation, or never touched (`ignore`). The sender is the From address. An entry is an
address (`alice@example.org`) or a domain (`@example.org`, which also covers its subdomains,
such as `mail.example.org`). The most specific entry wins: the exact address first, then the
longest matching domain; a sender can be on one list only (the config refuses duplicates), so
there is never a tie.

The model still runs on listed mail, so `triage explain` can show what it would have said; the
list only overrides the decision:

- relationship: label relationship, confidence 1, no offenses, never a draft;
- solicitation: label solicitation, confidence 1; a feedback draft only when the model itself
  called it solicitation and found a worst-offender behaviour (a list entry is no evidence of
  one);
- ignore: "other", no label, no draft: the daemon records it and leaves it alone.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from triage.config import ListKind, ListsConfig
from triage.decide.policy import Decision
from triage.message.parse import Message

_WHAT = {
    "relationship": "always relationship",
    "solicitation": "always solicitation",
    "ignore": "left alone",
}


@dataclass(frozen=True)
class ListMatch:
    """The list entry a sender matched."""

    kind: ListKind
    entry: str  # as written in the config: "alice@example.org" or "@example.org"

    @property
    def reason(self) -> str:
        return f"you listed {self.entry} as {_WHAT[self.kind]} ([lists] {self.kind})"


class SenderLists:
    """The `[lists]` of a config, ready to match sender addresses."""

    def __init__(self, config: ListsConfig | None = None) -> None:
        config = config or ListsConfig()
        self._addresses: dict[str, ListKind] = {}
        self._domains: dict[str, ListKind] = {}
        kinds: tuple[tuple[ListKind, tuple[str, ...]], ...] = (
            ("relationship", config.relationship),
            ("solicitation", config.solicitation),
            ("ignore", config.ignore),
        )
        for kind, entries in kinds:
            for entry in entries:
                entry = entry.strip().lower()
                if entry.startswith("@"):
                    self._domains.setdefault(entry[1:], kind)
                elif entry:
                    self._addresses.setdefault(entry, kind)

    def __bool__(self) -> bool:
        return bool(self._addresses or self._domains)

    def match(self, address: str) -> ListMatch | None:
        """The entry that decides for this sender address, or None."""
        address = address.strip().lower()
        if not address or "@" not in address:
            return None
        kind = self._addresses.get(address)
        if kind is not None:
            return ListMatch(kind, address)
        domain = address.rpartition("@")[2]
        labels = domain.split(".")
        for start in range(len(labels) - 1):  # longest (most specific) domain first
            candidate = ".".join(labels[start:])
            kind = self._domains.get(candidate)
            if kind is not None:
                return ListMatch(kind, "@" + candidate)
        return None

    def match_message(self, msg: Message) -> ListMatch | None:
        return self.match(msg.sender.addr) if msg.sender else None

    def apply(self, msgs: Sequence[Message], decisions: Sequence[Decision]) -> list[Decision]:
        """The decisions with every listed sender's override applied."""
        if not self:
            return list(decisions)
        return [override(d, self.match_message(m)) for m, d in zip(msgs, decisions, strict=True)]


def override(decision: Decision, match: ListMatch | None) -> Decision:
    """The decision a list entry makes of the model's decision (unchanged without a match)."""
    if match is None:
        return decision
    model_said = (
        f"the model alone says {decision.label} ({decision.confidence:.2f})"
        if decision.label != _label_of(match.kind)
        else ""
    )
    reasons = tuple(r for r in (match.reason, model_said) if r)
    if match.kind == "relationship":
        return replace(
            decision,
            label="relationship",
            confidence=1.0,
            offenses=(),
            draft=False,
            reasons=reasons + decision.reasons if not model_said else reasons,
            no_draft_because=f"you listed {match.entry} as always relationship",
        )
    if match.kind == "solicitation":
        if decision.label == "solicitation":
            return replace(decision, confidence=1.0, reasons=reasons + decision.reasons)
        return replace(
            decision,
            label="solicitation",
            confidence=1.0,
            offenses=(),
            draft=False,
            reasons=reasons,
            no_draft_because="the model found none of the worst-offender behaviours",
        )
    return replace(
        decision,
        label="other",
        confidence=1.0,
        offenses=(),
        draft=False,
        reasons=reasons,
        no_draft_because=f"you listed {match.entry} as never touched",
    )


def _label_of(kind: ListKind) -> str:
    return "other" if kind == "ignore" else kind
