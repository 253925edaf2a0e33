"""Message -> model input: the text the n-gram vectorizers read, plus named structural signals.

The n-grams learn how things are said; the signals carry what experienced networkers look for
and what a small corpus cannot teach on its own (asks for introductions, mentions of the reader's
network, evidence of homework, offers of help, template and mass-mail markers, calendar links,
introduction context, bulk headers). Every signal has a name and a plain-English description,
so the same numbers that drive the model also explain its decisions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from triage.message import Message

MAX_MODEL_TEXT = 3_000
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


@dataclass(frozen=True)
class Signal:
    name: str
    description: str  # completes "this message ..." in explanations
    compute: Callable[[Message, str], float]


def _count(pattern: re.Pattern[str], cap: int = 3) -> Callable[[Message, str], float]:
    """Occurrences in the new text, capped and scaled to 0..1 so no signal can shout."""

    def compute(_msg: Message, text: str) -> float:
        return min(len(pattern.findall(text)), cap) / cap

    return compute


_INTRO_ASK = _rx(
    r"\b(introduce me|intro me|(an?|the) intro(duction)? to|connect me (with|to)|put me in touch"
    r"|(could|would|can) you (please )?(connect|introduce|intro)|make an intro(duction)?"
    r"|warm intro|loop me in with|point me (to|towards) (the right|someone))"
)
_NETWORK = _rx(
    r"\b(your (network|contacts|connections|circle|followers|audience|friends)|anyone (you|in your)"
    r"|(know|knows) (of )?(anyone|someone|somebody)|forward (this|it|my)|share (this|it|my|our)"
    r"|pass (this|it) (along|on)|spread the word|tag (\w+ )?friends|who might (be interested|need))"
)
_REWARD = _rx(
    r"(\$\s?\d+|\d+\s?(usd|eur|%)|gift card|commission|finder'?s fee|bonus|per referral"
    r"|for every (referral|friend|person|client)|referral (fee|program|reward|bonus)|earn (up to|\$))"
)
_MLM = _rx(
    r"\b(financial freedom|be your own boss|(work|working) from (home|your phone)|extra income"
    r"|side hustle|passive income|join (my|our) team|residual income|business opportunity"
    r"|time freedom|ground floor|fire your boss|my (business|team) is growing|wellness business"
    r"|ambassador|life[- ]changing|make money)"
)
_JOB_ASK = _rx(
    r"\b((looking|searching|seeking) for (a |new )?(job|role|position|work|opportunit)"
    r"|open (roles|positions|vacanc)|refer me|my (resume|cv)|hire me|what do you have"
    r"|what can you (do|offer)|any (openings|opportunities|jobs)|help me (find|get) a job)"
)
_HOMEWORK = _rx(
    r"\b(i (read|loved|enjoyed|listened to|watched|saw) your|your (recent )?(article|post|talk|paper"
    r"|book|podcast|thread|essay|keynote|newsletter|research)|i noticed (that )?you"
    r"|you (wrote|mentioned|said|shared)|your work on)"
)
_OFFER = _rx(
    r"\b(happy to (help|share|introduce|connect|send|chat)|let me know if (i|there)"
    r"|if (it'?s|it would be|that'?s) (helpful|useful)|i can (help|send|share|introduce)"
    r"|no pressure|no worries if not|feel free to (ignore|say no|pass)|totally understand if"
    r"|(anything|something) i can do|thought (you|this) might|in case it'?s useful|for what it'?s worth)"
)
_THANKS = _rx(r"\b(thank(s| you)|grateful|appreciate[ds]?|thx|gracias|merci|cheers for)\b")
_CONGRATS = _rx(r"\b(congrat\w*|well deserved|so proud|happy for you|kudos|mazel tov)")
_HISTORY = _rx(
    r"\b(we met|(great|good|lovely|nice) (meeting|seeing|to meet|to see|chatting|talking)"
    r"|(worked|working) together|since (we|our)|last time we|remember (when|our)|long time"
    r"|been (a while|ages|too long)|catch(ing)? up|back (at|in) (the|our)|our (chat|call|conversation|coffee|lunch))"
)
_TEMPLATE = _rx(
    r"(\{\{|\}\}|\[(first ?name|name|company)\]|%[A-Z_]{3,}%|\{(first_?name|company|name)\}"
    r"|came across your (profile|company|website)|hope (this|my) (email|message|note) finds you"
    r"|quick question|touch base|synerg\w+|i'?d love to add you|(mutually )?beneficial"
    r"|explore (potential |possible )?(opportunities|collaboration)|decision[- ]maker)"
)
_CALENDAR = _rx(
    r"(calendly\.com|chilipiper|savvycal|cal\.com/|meetings\.hubspot|hubspot\.com/meetings"
    r"|book (a |some )?(time|call|slot|meeting)|grab (a )?(time|slot)|my calendar"
    r"|\b(15|20|30)[- ]?min(ute)?s?\b)"
)
_BUMP = _rx(
    r"\b(bump(ing)?|top of your inbox|circl(e|ing) back|following up on my|follow(ing)? up (on|again)"
    r"|did you (get|have) a chance|haven'?t heard back|close (your|the|out your) file"
    r"|last (attempt|try|email)|floating this)"
)
_PITCH = _rx(
    r"\b(our (platform|solution|service|product|agency|company|software|tool|team|clients)"
    r"|we help|we (work|partner) with|case stud(y|ies)|\bdemo\b|pricing|\broi\b|leads|revenue"
    r"|free trial|discount|limited (time|spots)|investment|returns|roi|scale your|grow your)"
)
_GENERIC_GREETING = _rx(
    r"^\s*(hi|hello|hey|dear|greetings)\s*(there|friend|sir|madam|sir/madam|team|all)?\s*[,!.:]?\s*$"
)
_UNSUBSCRIBE = _rx(r"(unsubscribe|opt[- ]out|reply (stop|no)|manage (your )?preferences)")
_INTRO_CONTEXT = _rx(r"\b(intro(duc\w+)?|connecting (you|the two)|meet \w+|moving \w+ to bcc)")
_YOU = _rx(r"\b(you|your|yours)\b")
_WE = _rx(r"\b(i|we|our|my|us)\b")
_QUESTION_TO_READER = _rx(r"[^.?!\n]*\byou\w*\b[^.?!\n]*\?")
_NOREPLY = _rx(r"(no-?reply|do-?not-?reply|notifications?|mailer-daemon|bounce|alerts?@|news@|info@)")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def _bulk_headers(msg: Message, _text: str) -> float:
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


def _unsubscribe(msg: Message, text: str) -> float:
    return float("list-unsubscribe" in msg.headers or bool(_UNSUBSCRIBE.search(msg.body[-1500:])))


def _noreply_sender(msg: Message, _text: str) -> float:
    return float(bool(msg.sender and _NOREPLY.search(msg.sender.addr)))


def _platform(msg: Message, _text: str) -> float:
    return float(bool(msg.platform))


def _platform_without_note(msg: Message, text: str) -> float:
    return float(bool(msg.platform) and len(text.split()) < 4)


def _reply_context(msg: Message, _text: str) -> float:
    return float(bool(msg.in_reply_to or msg.references or msg.quoted_text))


def _introduction_context(msg: Message, _text: str) -> float:
    subject_says = bool(_INTRO_CONTEXT.search(msg.subject))
    quote_says = bool(_INTRO_CONTEXT.search(msg.quoted_text[:2000]))
    return (subject_says + quote_says + bool(msg.cc)) / 3


def _calendar_invite(msg: Message, _text: str) -> float:
    return float(msg.has_calendar)


def _length(_msg: Message, text: str) -> float:
    return min(math.log1p(len(text.split())) / math.log1p(400), 1.0)


def _links(msg: Message, text: str) -> float:
    return min(len(_URL.findall(text)) + len(msg.links), 5) / 5


def _you_focus(_msg: Message, text: str) -> float:
    you, me = len(_YOU.findall(text)), len(_WE.findall(text))
    return you / (you + me) if you + me else 0.5


def _generic_greeting(_msg: Message, text: str) -> float:
    first = text.lstrip().split("\n", 1)[0]
    return float(bool(_GENERIC_GREETING.match(first)))


def _emoji(_msg: Message, text: str) -> float:
    return min(len(_EMOJI.findall(text)), 4) / 4


SIGNALS: tuple[Signal, ...] = (
    Signal("asks_introduction", "asks you to introduce them to someone", _count(_INTRO_ASK, 2)),
    Signal("mentions_network", "asks about or into your network or contacts", _count(_NETWORK)),
    Signal("offers_reward", "offers money or rewards for referrals", _count(_REWARD)),
    Signal("mlm_language", "uses multi-level-marketing language", _count(_MLM)),
    Signal("asks_for_job", "asks for a job or what you can do for them", _count(_JOB_ASK, 2)),
    Signal("shows_homework", "shows they read or know your work", _count(_HOMEWORK, 2)),
    Signal("offers_help", "offers help or makes it easy to say no", _count(_OFFER)),
    Signal("thanks", "thanks you", _count(_THANKS, 2)),
    Signal("congratulates", "congratulates you", _count(_CONGRATS, 2)),
    Signal("shared_history", "refers to history you share", _count(_HISTORY, 2)),
    Signal("template_markers", "reads like a template or mass mail", _count(_TEMPLATE)),
    Signal("calendar_link", "pushes a calendar link or a meeting slot", _count(_CALENDAR, 2)),
    Signal("bump_followup", "bumps an earlier unanswered message", _count(_BUMP, 2)),
    Signal("sales_language", "talks about their product, pricing or results", _count(_PITCH)),
    Signal("questions_for_you", "asks questions about you", _count(_QUESTION_TO_READER)),
    Signal("you_focus", "is about you rather than them", _you_focus),
    Signal("generic_greeting", "opens with a generic greeting", _generic_greeting),
    Signal("bulk_headers", "carries bulk or automated-mail headers", _bulk_headers),
    Signal("unsubscribe", "has an unsubscribe link or line", _unsubscribe),
    Signal("noreply_sender", "comes from a no-reply or notification address", _noreply_sender),
    Signal("platform_notification", "is a platform notification", _platform),
    Signal("platform_without_note", "is a platform invitation with no personal note",
           _platform_without_note),
    Signal("reply_context", "replies to an earlier message", _reply_context),
    Signal("introduction_context", "follows or makes an introduction", _introduction_context),
    Signal("calendar_invite", "is a calendar invitation", _calendar_invite),
    Signal("length", "is long", _length),
    Signal("links", "contains links", _links),
    Signal("emoji", "uses emoji", _emoji),
)
SIGNAL_NAMES = tuple(signal.name for signal in SIGNALS)


def model_text(msg: Message) -> str:
    """The words the n-gram models read: subject, the new text, and a bit of the signature."""
    parts = [msg.subject, msg.new_text or msg.body[:MAX_MODEL_TEXT]]
    if msg.signature:
        parts.append(msg.signature[:300])
    return "\n".join(parts)[:MAX_MODEL_TEXT]


def signal_vector(msg: Message) -> list[float]:
    text = msg.new_text if msg.new_text or msg.platform else msg.body[:MAX_MODEL_TEXT]
    text = text[:MAX_MODEL_TEXT]
    return [signal.compute(msg, text) for signal in SIGNALS]


def prepare(messages: Sequence[Message]) -> np.ndarray:
    """Rows of [model text, signal 1, signal 2, ...]: the input of the model pipeline."""
    rows = np.empty((len(messages), 1 + len(SIGNALS)), dtype=object)
    for i, msg in enumerate(messages):
        rows[i, 0] = model_text(msg)
        rows[i, 1:] = signal_vector(msg)
    return rows
