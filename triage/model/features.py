"""Message -> model input: the text the n-gram vectorizers read, plus named structural signals.

The n-grams learn how things are said; the signals carry what experienced networkers look for
and what a small corpus cannot teach on its own (asks for introductions, mentions of the reader's
network, evidence of homework, offers of help, template and mass-mail markers, calendar links,
introduction context, bulk headers). Every signal has a name and a plain-English description,
so the same numbers that drive the model also explain its decisions. The words the signals
look for are in `triage.model.vocabulary`, matched as `triage.model.phrases`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from triage.message.parse import Message
from triage.model.phrases import TOKEN, Text
from triage.model.vocabulary import (
    APPLICATION,
    ASKS_FOR_CALL,
    ASKS_OF_YOU,
    BUMP,
    CALENDAR,
    CALENDAR_LINKS,
    CONGRATS,
    EASY_NO,
    EMOJI,
    GENERIC_GREETING,
    GROUP,
    HISTORY,
    HOMEWORK,
    INTRO_ASK,
    INTRO_OFFER,
    INTRO_QUOTE,
    INTRO_SUBJECT,
    JOB_ASK,
    JOB_OFFER,
    MERGE_FIELD,
    MLM,
    MONEY,
    NETWORK,
    NOREPLY,
    OFFER,
    PITCH,
    QUESTION,
    REWARD,
    STRANGER,
    TEMPLATE,
    THANKS,
    UNSUBSCRIBE,
    WE,
    YOU,
)

MAX_MODEL_TEXT = 2_000
MAX_SIGNAL_TEXT = 2_500
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)


@dataclass(frozen=True)
class Signal:
    name: str
    description: str  # completes "this message ..." in explanations
    compute: Callable[[Message, Text], float] | None  # None: derived from the other signals
    reason: bool = True  # worth naming as a reason; "is long" weighs in but explains nothing


def _phrase_count(
    patterns: frozenset[tuple[str, ...]],
    cap: int = 3,
    extra: re.Pattern[str] | None = None,
    substrings: tuple[str, ...] = (),
    extra_needs: tuple[str, ...] = (),
) -> Callable[[Message, Text], float]:
    """Distinct phrases found in the new text (plus regex and substring hits), capped and
    scaled to 0..1 so that no signal can shout. `extra` can only match text that contains one
    of `extra_needs` (when given): a quick test that saves the regex scan."""

    def compute(_msg: Message, text: Text) -> float:
        found = len(patterns & text.grams)
        if extra is not None and (not extra_needs or any(c in text.raw for c in extra_needs)):
            found += len(extra.findall(text.raw))
        if substrings:
            found += sum(1 for s in substrings if s in text.lower)
        return min(found, cap) / cap

    return compute


def _bulk_headers(msg: Message, _text: Text) -> float:
    h = msg.headers
    precedence = h.get("precedence", "").lower()
    auto = h.get("auto-submitted", "no").lower()
    return float(
        "list-id" in h
        or precedence in ("bulk", "list", "junk")
        or (auto not in ("", "no"))
        or "feedback-id" in h
        or "x-campaign" in h
        or "x-mailchimp" in "".join(h)
    )


def _unsubscribe(msg: Message, _text: Text) -> float:
    tail = msg.body[-1500:].lower()
    return float("list-unsubscribe" in msg.headers or any(p in tail for p in UNSUBSCRIBE))


def _noreply_sender(msg: Message, _text: Text) -> float:
    return float(bool(msg.sender and NOREPLY.search(msg.sender.addr)))


def _platform_without_note(msg: Message, text: Text) -> float:
    return float(bool(msg.platform) and len(text.tokens) < 4)


def _reply_context(msg: Message, _text: Text) -> float:
    return float(bool(msg.in_reply_to or msg.references or msg.quoted_text))


# Every INTRO_QUOTE match contains one of these, lower-cased; characters that match an ASCII
# letter case-insensitively without lower-casing to it send the text to the regex anyway.
_INTRO_QUOTE_NEEDS = ("introduc", "connect", "meet", "you two", " bcc", "double opt-in")
_ODD_CASE = ("\u017f", "\u0131", "\u0130", "\u212a")


def _may_introduce(text: str) -> bool:
    lower = text.lower()
    return any(word in lower for word in _INTRO_QUOTE_NEEDS) or (
        not text.isascii() and any(c in text for c in _ODD_CASE)
    )


def _introduction_context(msg: Message, _text: Text) -> float:
    """An introduction is named in the subject or in the quoted message; a Cc (the introducer)
    only adds to that evidence, never stands for it: list replies are full of Cc lines."""
    subject_says = bool(INTRO_SUBJECT.search(msg.subject))
    quoted = msg.quoted_text[:3000]
    quote_says = _may_introduce(quoted) and bool(INTRO_QUOTE.search(quoted))
    if not (subject_says or quote_says):
        return 0.0
    return (subject_says + quote_says + bool(msg.cc)) / 3


def _calendar_invite(msg: Message, _text: Text) -> float:
    return float(msg.has_calendar)


_REFERRAL_WORDS = frozenset(
    {
        "refer",
        "refers",
        "referral",
        "referrals",
        "referred",
        "referring",
        "intro",
        "intros",
        "introduction",
        "introductions",
        "recommend",
        "recommendation",
        "bring",
        "signup",
        "signups",
    }
)
_reward_phrases = _phrase_count(REWARD)


def _offers_reward(msg: Message, text: Text) -> float:
    """Reward phrases, plus amounts of money, but amounts only where referrals are the topic:
    a treatment plan or an invoice quotes prices too."""
    score = _reward_phrases(msg, text)
    if _REFERRAL_WORDS.isdisjoint(text.tokens):
        return score
    return min(score + len(MONEY.findall(text.raw)) / 3, 1.0)


def _many_recipients(msg: Message, _text: Text) -> float:
    """Written to a crowd: many addressees on To and Cc."""
    return float(len(msg.to) + len(msg.cc) >= 6)


def _length(_msg: Message, text: Text) -> float:
    return min(math.log1p(len(text.tokens)) / math.log1p(400), 1.0)


def _links(msg: Message, text: Text) -> float:
    urls = len(_URL.findall(text.raw)) if "://" in text.raw else 0
    return min(urls + len(msg.links), 5) / 5


def _you_focus(_msg: Message, text: Text) -> float:
    you = sum(map(YOU.__contains__, text.tokens))
    me = sum(map(WE.__contains__, text.tokens))
    return you / (you + me) if you + me else 0.5


def _questions_for_you(_msg: Message, text: Text) -> float:
    if "?" not in text.raw:
        return 0.0
    # Split at every ".", "?", "!" and line break, the pieces that end with "?" are the runs
    # of text before each "?" since the previous such mark.
    questions = QUESTION.findall(text.raw.lower())
    asked = sum(1 for sentence in questions if not YOU.isdisjoint(TOKEN.findall(sentence)))
    return min(asked, 3) / 3


def _generic_greeting(_msg: Message, text: Text) -> float:
    first = text.raw.lstrip().split("\n", 1)[0]
    return float(bool(GENERIC_GREETING.match(first)))


def _emoji(_msg: Message, text: Text) -> float:
    if text.raw.isascii():  # every EMOJI character is beyond ASCII
        return 0.0
    return min(len(EMOJI.findall(text.raw)), 4) / 4


SIGNALS: tuple[Signal, ...] = (
    Signal(
        "asks_introduction", "asks you to introduce them to someone", _phrase_count(INTRO_ASK, 2)
    ),
    Signal(
        "mentions_network", "asks about or into your network or contacts", _phrase_count(NETWORK)
    ),
    Signal("offers_reward", "offers money or rewards for referrals", _offers_reward),
    Signal("mlm_language", "uses multi-level-marketing language", _phrase_count(MLM)),
    Signal("asks_for_job", "asks for a job or what you can do for them", _phrase_count(JOB_ASK, 2)),
    Signal("shows_homework", "shows they read or know your work", _phrase_count(HOMEWORK, 2)),
    Signal("offers_help", "offers help or makes it easy to say no", _phrase_count(OFFER)),
    Signal("thanks", "thanks you", _phrase_count(THANKS, 2)),
    Signal("congratulates", "congratulates you", _phrase_count(CONGRATS, 2)),
    Signal("shared_history", "refers to history you share", _phrase_count(HISTORY, 2)),
    Signal(
        "template_markers",
        "reads like a template or mass mail",
        _phrase_count(TEMPLATE, extra=MERGE_FIELD, extra_needs=("{", "}", "[", "%")),
    ),
    Signal(
        "calendar_link",
        "pushes a calendar link or a meeting slot",
        _phrase_count(CALENDAR, 2, substrings=CALENDAR_LINKS),
    ),
    Signal("bump_followup", "bumps an earlier unanswered message", _phrase_count(BUMP, 2)),
    Signal("sales_language", "talks about their product, pricing or results", _phrase_count(PITCH)),
    Signal("offers_job", "recruits you for a job", _phrase_count(JOB_OFFER)),
    Signal("asks_for_call", "asks for a call or a meeting", _phrase_count(ASKS_FOR_CALL, 2)),
    Signal("questions_for_you", "asks questions about you", _questions_for_you),
    Signal("you_focus", "is about you rather than them", _you_focus),
    Signal("generic_greeting", "opens with a generic greeting", _generic_greeting),
    Signal("bulk_headers", "carries bulk or automated-mail headers", _bulk_headers),
    Signal("unsubscribe", "has an unsubscribe link or line", _unsubscribe),
    Signal("noreply_sender", "comes from a no-reply or notification address", _noreply_sender),
    Signal(
        "platform_without_note",
        "is a platform invitation with no personal note",
        _platform_without_note,
    ),
    Signal("reply_context", "replies to an earlier message", _reply_context),
    Signal("introduction_context", "follows or makes an introduction", _introduction_context),
    Signal("calendar_invite", "is a calendar invitation", _calendar_invite),
    Signal(
        "offers_introduction",
        "offers to introduce you or has referred someone to you",
        _phrase_count(INTRO_OFFER, 2),
    ),
    Signal("asks_of_you", "asks something of you", _phrase_count(ASKS_OF_YOU)),
    Signal(
        "stranger_opening", "opens as a first message from a stranger", _phrase_count(STRANGER, 2)
    ),
    Signal("only_gives", "thanks, congratulates or offers help without asking for anything", None),
    Signal("written_to_group", "is written to a group rather than to you", _phrase_count(GROUP, 2)),
    Signal("many_recipients", "went to many recipients", _many_recipients),
    Signal("applies_to_posting", "applies to a posted job", _phrase_count(APPLICATION, 2)),
    Signal("length", "is long", _length, reason=False),
    Signal("links", "contains links", _links, reason=False),
    Signal("emoji", "uses emoji", _emoji, reason=False),
)
SIGNAL_NAMES = tuple(signal.name for signal in SIGNALS)
# The phrase lists behind the ask signals, for triage.letters.draft_facts, which finds the
# sentence of a message that makes the ask a feedback draft answers.
ASK_PHRASES: dict[str, frozenset[tuple[str, ...]]] = {
    "introduction": INTRO_ASK,
    "network": NETWORK,
    "reward": REWARD,
    "mlm": MLM,
    "job": JOB_ASK,
    "pitch": PITCH | CALENDAR | ASKS_FOR_CALL,
    "stranger": STRANGER,
}
QUIET_SIGNALS = frozenset(f"signal:{s.name}" for s in SIGNALS if not s.reason)
_ONLY_GIVES = SIGNAL_NAMES.index("only_gives")
_ASKS = tuple(
    SIGNAL_NAMES.index(name)
    for name in (
        "asks_of_you",
        "asks_introduction",
        "asks_for_job",
        "asks_for_call",
        "mentions_network",
        "calendar_link",
    )
)
_GIVES = tuple(
    SIGNAL_NAMES.index(name)
    for name in ("thanks", "congratulates", "offers_help", "offers_introduction")
)


def _only_gives(values: Sequence[float]) -> float:
    """Thanks, congratulations or an offer, with no ask of any kind beside it: the mark of a
    relationship note however short, and whoever writes it. Read off the signals already
    computed, not found again."""
    if any(values[i] for i in _ASKS):
        return 0.0
    return max(values[i] for i in _GIVES)


def model_text(msg: Message) -> str:
    """The words the n-gram models read: subject, the new text, and a bit of the signature."""
    parts = [msg.subject, msg.new_text or msg.body[:MAX_MODEL_TEXT]]
    if msg.signature:
        parts.append(msg.signature[:300])
    return "\n".join(parts)[:MAX_MODEL_TEXT]


def _signal_text(msg: Message) -> Text:
    raw = msg.new_text if msg.new_text or msg.platform else msg.body
    return Text.of(raw[:MAX_SIGNAL_TEXT])


def offers_an_easy_no(msg: Message) -> bool:
    """The message makes it easy to say no ("no worries if not"): part of offers_help, and what
    the draft rule needs on its own (triage.decide.policy)."""
    return not EASY_NO.isdisjoint(_signal_text(msg).grams)


def signal_vector(msg: Message) -> list[float]:
    text = _signal_text(msg)
    values = [signal.compute(msg, text) if signal.compute else 0.0 for signal in SIGNALS]
    values[_ONLY_GIVES] = _only_gives(values)
    return values


def prepare(messages: Iterable[Message]) -> np.ndarray:
    """Rows of [model text, signal 1, signal 2, ...]: the input of the model pipeline. Each
    message is read once, so a generator of parsed messages never holds them all."""
    prepared = [(model_text(msg), signal_vector(msg)) for msg in messages]
    rows = np.empty((len(prepared), 1 + len(SIGNALS)), dtype=object)
    for i, (text, signals) in enumerate(prepared):
        rows[i, 0] = text
        rows[i, 1:] = signals
    return rows
