"""Bytes to decisions for a batch of mail: parse, classify, and name the draft each would get.

One bad message fails only itself; a model that fails on every message stops the batch with a
`ModelError`, so nothing is recorded as an error for good because of a broken model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from triage.decide.policy import Decision, SenderContext
from triage.errors import ModelError, one_line
from triage.message.parse import Message, parse_message
from triage.model.classifier import Classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Classified:
    """One message parsed and classified."""

    message_id: str
    sender: str
    subject: str
    decision: Decision | None
    draft_id: str = ""  # when the decision wants a draft
    error: str = ""
    message: Message | None = None  # only when classified in this process


ContextsFor = Callable[[Sequence[str]], Sequence[SenderContext]]


def no_context(senders: Sequence[str]) -> list[SenderContext]:
    return [SenderContext() for _ in senders]


def classify_raw(
    classifier: Classifier, raws: Sequence[bytes], contexts_for: ContextsFor, user_address: str
) -> list[Classified]:
    """parse_message + Classifier.classify for a batch; a bad message only fails itself.

    `contexts_for` gets the sender addresses of the parsed messages and returns what is known
    about each (written to, own address, recently drafted)."""
    from triage.letters.replies import draft_message_id_for

    messages: list[Message | None] = []
    errors: list[str] = []
    for raw in raws:
        try:
            messages.append(parse_message(raw))
            errors.append("")
        except Exception as exc:  # noqa: BLE001 - MessageParseError, or a parser bug
            messages.append(None)
            errors.append(f"cannot parse: {one_line(exc)}")
    ok = [i for i, m in enumerate(messages) if m is not None]
    senders = [m.sender.addr if m is not None and m.sender else "" for m in messages]
    contexts = list(contexts_for(senders))
    decisions: dict[int, Decision | None] = {}
    try:
        batch = classifier.classify(
            [messages[i] for i in ok],  # type: ignore[misc]
            [contexts[i] for i in ok],
        )
        decisions = dict(zip(ok, batch, strict=True))
    except Exception as batch_error:  # noqa: BLE001 - find the message that breaks the model
        log.warning("classifying a batch failed (%s); retrying one by one", one_line(batch_error))
        for i in ok:
            try:
                decisions[i] = classifier.classify([messages[i]], [contexts[i]])[0]  # type: ignore[list-item]
            except Exception as exc:  # noqa: BLE001
                decisions[i] = None
                errors[i] = f"the classifier failed on this message: {one_line(exc)}"
        if ok and all(decisions[i] is None for i in ok):
            # Not one bad message: the model itself is broken. Record nothing (so nothing is
            # skipped for good); the caller stops or retries later.
            raise ModelError(
                f"the classifier fails on every message: {one_line(batch_error)}"
            ) from None
    results = []
    for i, message in enumerate(messages):
        decision = decisions.get(i)
        draft_id = ""
        if message is not None and decision is not None and decision.draft:
            draft_id = draft_message_id_for(message, user_address)
        results.append(
            Classified(
                message_id=message.message_id if message else "",
                sender=message.sender.addr if message and message.sender else "",
                subject=message.subject if message else "",
                decision=decision,
                draft_id=draft_id,
                error=errors[i],
                message=message,
            )
        )
    return results
