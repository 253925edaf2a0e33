"""The words of a feedback draft: which phrasing, whose name, which template. Pure text.

A letter is five parts, each a set of interchangeable phrasings (variants)::

    opening      greeting and a first line in the spirit of "I hope you don't mind some feedback"
    <offense>    the main offense: what happened, in plain words, and why it backfires
    also         one sentence naming the other offenses briefly (only when there are several)
    suggestion   what would work better for the main offense
    closing      leaves the door open, signs off, then {signature}

The wording is read by triage.draft_templates; when the user is the
*introducer* (on Cc of a follow-up to someone they introduced the sender to) the opening,
offense and suggestion come from the `-introducer` files instead.

Which variant of each part is used is decided by a hash of the original's Message-ID, so
re-running gives the same letter and two offenders almost always get different ones; `avoid`
makes "never the same letter twice in a run" a guarantee. Every letter stays under
`WORD_LIMIT` words (your signature aside): the brief mention of other offenses is dropped first,
then the quote is shortened, then user overrides that make the letter too long give way to the
built-in wording.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product

from triage.config import DraftsConfig
from triage.decide.policy import OFFENSE_NAMES
from triage.errors import DraftError
from triage.letters.draft_facts import (
    MAX_QUOTE_WORDS,
    Situation,
    ask_kind,
    asks_for_contact_details,
    asks_for_meeting,
    situation,
    the_ask,
)
from triage.letters.draft_names import closing_name, first_name, signed_name
from triage.letters.draft_templates import (
    CONTROL_CHARS,
    Templates,
    builtin_templates,
    clean_text,
    safe_format,
    word_count,
)
from triage.letters.draft_warmth import Reading, plain_request, read_message
from triage.message.headers import Address
from triage.message.parse import Message

log = logging.getLogger(__name__)

WORD_LIMIT = 150  # every letter has fewer words than this, not counting your signature
QUOTE_LENGTHS = (MAX_QUOTE_WORDS, 25, 15)  # the quote is shortened before a letter runs long
MAX_ATTEMPTS = 512  # variant combinations tried to satisfy `avoid` and the word limit

# How each offense is named in the one-sentence mention when it is not the main one. Neutral
# wording, so it reads right whether the user was the target or the introducer.
OFFENSE_MENTIONS: Mapping[str, str] = {
    "introduction-ask": "asking for introductions before there is a relationship",
    "network-harvesting": "the request to pass your offer along to others",
    "referral-bounty": "the reward offered for referrals",
    "mlm-recruiting": "the invitation to join your business",
    "what-can-you-do-for-me": "asking for a job or a favour up front",
    "pitch-on-introduction": "going straight to a pitch",
}
MAX_MENTIONS = 2  # other offenses named by the "also" sentence

_INTRODUCER_FALLBACK = "our mutual contact"
_INTRO_WORDS = re.compile(
    r"(?i)\b(intro|introduc\w*|connect(?:ed|ing)? us|connecting"
    r"|the connection|put us in touch|you two|should meet|e-meet)\b"
    r"|\S\s*<>\s*\S"
)  # "Re: Kevin <> Samuel"
_INTRODUCED_TO_FALLBACK = "my contact"


# --------------------------------------------------------------------------- the letter


@dataclass(frozen=True)
class IntroContext:
    """Who introduced whom, as far as the headers tell."""

    user_is_introducer: bool = False
    introducer: str = ""  # first name of whoever made the introduction, "" when unknown
    introduced_to: str = ""  # first name of whom the sender was introduced to


def introduction_context(original: Message, own_addresses: Collection[str]) -> IntroContext:
    """The user is the introducer when they are on Cc (not To) of a message to someone else;
    otherwise a third party on the message is taken to be the introducer."""
    own = {a.lower() for a in own_addresses}
    sender = original.sender.addr if original.sender else ""

    def others(addresses: Iterable[Address]) -> list[Address]:
        return [a for a in addresses if a.addr and a.addr not in own and a.addr != sender]

    user_in_to = any(a.addr in own for a in original.to)
    user_in_cc = any(a.addr in own for a in original.cc)
    to_others, cc_others = others(original.to), others(original.cc)
    if user_in_cc and not user_in_to and to_others:
        person = to_others[0]
        return IntroContext(True, "", first_name(person.name, person.addr))
    candidates = cc_others or (to_others if len(to_others) == 1 else [])
    if candidates:
        return IntroContext(False, first_name(candidates[0].name, candidates[0].addr), "")
    return IntroContext()


def shown_situation(original: Message, context: IntroContext) -> Situation:
    """The situation the message shows (triage.draft_facts.situation), with the introduction
    read from the headers."""
    return situation(
        original,
        context.user_is_introducer,
        context.introducer,
        context.introduced_to,
        introduction_shown=bool(context.introducer)
        and bool(_INTRO_WORDS.search(f"{original.subject}\n{original.new_text}")),
    )


_CONTEXTS = {
    "event": "After we met briefly,",
    "acquaintance": "Getting back in touch,",
    "client": "Our teams already work together; here",
    "thread": "In your reply here,",
    "cold": "In your first message to me,",
}


def situation_context(shown: Situation) -> str:
    """How the sender's ask is introduced: the situation the message shows, and no other
    ("After Dana introduced us,")."""
    if shown.kind == "introducer":
        whom = shown.introduced_to
        return f"After I introduced you to {whom}," if whom else "After my introduction,"
    if shown.kind == "introduced":
        return f"After {shown.introducer} introduced us,"
    return _CONTEXTS.get(shown.kind, "In your message,")


def situation_lead(shown: Situation) -> str:
    """What comes before the quote of their ask ("After Dana introduced us, you wrote")."""
    return f"{situation_context(shown)} you wrote" if shown.kind else "You wrote"


def _signature_line(line: str) -> str:
    line = CONTROL_CHARS.sub("", line)
    return line if line == "-- " else line.rstrip()  # keep the "-- " delimiter intact


def signature_block(drafts: DraftsConfig) -> str:
    """from_name and signature from [drafts], without saying the name twice."""
    name = clean_text(drafts.from_name, 200)
    lines_in = drafts.signature.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    signature = "\n".join(_signature_line(line) for line in lines_in).strip("\n")
    lines = []
    if name and name.lower() not in signature.lower():
        lines.append(name)
    if signature:
        lines.append(signature)
    return "\n".join(lines)


def _join_mentions(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def fingerprint(text: str) -> str:
    """What `avoid` holds: a short hash of a letter's words, blind to spacing and case."""
    return hashlib.sha256(" ".join(text.lower().split()).encode("utf-8")).hexdigest()[:32]


def message_key(original: Message) -> str:
    """What the choice of phrasing hangs on: the Message-ID, or a stand-in when there is none."""
    if original.message_id:
        return original.message_id
    sender = original.sender.addr if original.sender else ""
    date = original.date.isoformat() if original.date else ""
    return f"{sender}\n{original.subject}\n{date}\n{original.new_text[:2000]}"


def _seed(key: str, part: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{part}\0{key}".encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Letter:
    text: str
    words: int
    main_offense: str
    offenses: tuple[str, ...]
    user_is_introducer: bool
    fingerprint: str
    used_overrides: bool
    parts: tuple[str, ...] = ()  # the template parts it is made of, in order


@dataclass(frozen=True)
class _Plan:
    parts: tuple[tuple[str, tuple[str, ...]], ...]  # (part name, variants) in letter order


_SITUATION_OPENINGS = {
    "introducer": "opening-introducer",
    "introduced": "opening-introduced",
    "event": "opening-event",
    "acquaintance": "opening-acquaintance",
    "thread": "opening-reply",
}
_SITUATION_SUGGESTIONS = {
    "introducer": "introducer-suggestion",
    "client": "client-suggestion",
    "event": "event-suggestion",
    "acquaintance": "acquaintance-suggestion",
    "introduced": "introduced-suggestion",
    "thread": "thread-suggestion",
}


def opening_part(shown: Situation, reading: Reading) -> str:
    """The opening: what is good in the message, or what the sender is going through, before
    any feedback; a templated message is answered as one."""
    if shown.kind == "introducer":
        return "opening-introducer"  # the follow-up went to someone else: thank them for it
    for applies, part in (
        (reading.templated, "opening-template"),
        (reading.job_loss, "opening-job-loss"),
        (reading.newcomer, "opening-newcomer"),
        (reading.student, "opening-student"),
        (reading.answered, "opening-answer"),
        (reading.kind_words, "opening-kind-words"),
        (reading.says_why, "opening-your-work"),
    ):
        if applies:
            return part
    if shown.kind not in _SITUATION_OPENINGS and reading.mutual:
        return "opening-mutual"
    return _SITUATION_OPENINGS.get(shown.kind, "opening")


# Reasons written for an ask an offense's own paragraph does not fit (ask_kind): a reward for
# the reader's own time is not a bounty on other people, and a place before their audience is
# not their contacts. Blind readers marked both as answering an ask that was not made.
_REASONS_BY_KIND = {
    ("referral-bounty", "attention"): "referral-bounty-attention",
    ("network-harvesting", "audience"): "network-harvesting-audience",
    ("network-harvesting", "staff"): "network-harvesting-staff",
}


def suggestion_part(main: str, shown: Situation, reading: Reading, kind: str = "") -> str:
    """What would work better, for this sender: the advice follows the situation (a client is
    not told to get to know people first), for a job seeker what they are looking for, and
    else what exactly was asked (a reward for the reader's time is not about referrers)."""
    if shown.kind == "introducer":
        return _SITUATION_SUGGESTIONS[shown.kind]
    if main == "what-can-you-do-for-me":
        return "student-suggestion" if reading.student else "jobseeker-suggestion"
    if shown.kind == "client":
        return _SITUATION_SUGGESTIONS[shown.kind]
    if reading.templated:
        return "template-suggestion"
    if main == "pitch-on-introduction":
        return f"{main}-suggestion"  # its own advice is already about introductions
    own = _REASONS_BY_KIND.get((main, kind), main)
    return _SITUATION_SUGGESTIONS.get(shown.kind, f"{own}-suggestion")


def reason_part(main: str, reading: Reading, kind: str) -> str:
    """Why it backfires: the offense's paragraph, or the one for what exactly was asked, or
    the gentle one for someone out of work or just moved country."""
    if main == "what-can-you-do-for-me" and (reading.job_loss or reading.newcomer):
        return f"{main}-gentle"
    return _REASONS_BY_KIND.get((main, kind), main)


# A plain no to what was asked: blind readers found senders left unsure whether the answer was
# yes. Not when the ask went to someone the user introduced (theirs to answer); not for "what
# can you do for me", whose advice says what the user would do instead; and a pitch on an
# introduction asks for a meeting, which decline-meeting answers.
DECLINES = {
    "introduction-ask": "decline-introduction",
    "network-harvesting": "decline-forwarding",
    "referral-bounty": "decline-reward",
    "mlm-recruiting": "decline-joining",
}


def _plan(
    templates: Templates,
    main: str,
    shown: Situation,
    reading: Reading,
    with_also: bool,
    use_overrides: bool,
    *,
    proposes_meeting: bool = False,
    wants_details: bool = False,
    kind: str = "",
) -> _Plan:
    intro = shown.kind == "introducer"
    names = [
        opening_part(shown, reading),
        "what-you-asked" if reading.plain else "what-you-wrote",
        f"{main}-introducer" if intro else reason_part(main, reading, kind),
    ]
    if reading.sensitive or wants_details:  # one note at most: the letter stays short
        names.append(reading.sensitive or "privacy-note")
    if with_also:
        names.append("also")
    names.append(suggestion_part(main, shown, reading, kind))
    if proposes_meeting:
        names.append("decline-meeting")
    elif main in DECLINES and not intro and not wants_details:  # the privacy note says no
        names.append(DECLINES[main])
    names.append("closing")
    return _Plan(
        tuple(
            (n, _fitting(templates.variants(n, use_overrides=use_overrides), shown, reading))
            for n in names
        )
    )


# Variants that are false in some situations, and the readings that rule each out. Blind
# readers marked every one of these as not having read the message:
# - "why me" to someone a friend introduced, an old acquaintance, or a sender who said what
#   brought them (the user's article, a mutual friend);
# - "opening with it" to a sender who opened with congratulations, the user's work, shared
#   history or a question about the user;
# - "before showing any curiosity" to a sender who asked after the user;
# - "as friends" to someone the user has never met.
_WHY_ME = re.compile(
    r"(?i)\bwhy me\b|\bwhy you thought of me\b|\bwhy I'd be the right person\b"
    r"|\bwhat you know of my work\b"
)
_UNFIT: tuple[tuple[re.Pattern[str], Callable[[Situation, Reading], bool]], ...] = (
    (
        _WHY_ME,
        lambda shown, reading: (
            shown.kind in ("introduced", "acquaintance") or reading.says_why or bool(reading.mutual)
        ),
    ),
    (
        re.compile(r"(?i)\bopening with it\b"),
        lambda shown, reading: (
            shown.kind == "acquaintance"
            or reading.kind_words
            or reading.says_why
            or reading.asks_after_you
        ),
    ),
    (
        re.compile(r"(?i)\bbefore showing any (curiosity|interest)\b"),
        lambda shown, reading: reading.asks_after_you or reading.says_why,
    ),
    (re.compile(r"(?i)\bas friends\b"), lambda shown, reading: shown.kind != "acquaintance"),
)


def _fitting(variants: tuple[str, ...], shown: Situation, reading: Reading) -> tuple[str, ...]:
    """The variants that are not false in this situation; all of them when none would be
    left."""
    unfit = [pattern for pattern, rules_out in _UNFIT if rules_out(shown, reading)]
    return tuple(v for v in variants if not any(p.search(v) for p in unfit)) or variants


def compose_letter(
    original: Message,
    offenses: Sequence[str],
    drafts: DraftsConfig,
    user_address: str,
    *,
    recipient: Address | None = None,
    templates: Templates | None = None,
    avoid: Collection[str] = (),
) -> Letter:
    """The feedback letter for `original`, whose sender showed `offenses` (strongest first).

    `recipient` is whom the draft goes to (default: the sender). `avoid` holds fingerprints
    of letters already written in this run: the first variant combination (in an order fixed
    by the Message-ID) whose fingerprint is not in it is used. Raises DraftError when none of
    `offenses` is a known offense code, or no sentence of the message shows the ask.
    """
    templates = templates or builtin_templates()
    codes = tuple(dict.fromkeys(c for c in offenses if c in OFFENSE_NAMES))
    if not codes:
        raise DraftError(f"no known offense among {list(offenses)!r}")
    main = codes[0]
    # another offense is named only when a sentence of theirs shows it too: blind readers found
    # "the request to pass your offer along" in letters to people who had asked no such thing
    others = tuple(code for code in codes[1:] if the_ask(original, code))
    own = {user_address.lower(), *drafts.addresses}
    context = introduction_context(original, own)
    intro = context.user_is_introducer
    shown = shown_situation(original, context)
    reading = read_message(original)
    person = recipient or original.sender or Address("", "")
    sender = original.sender or person
    first = (
        signed_name(original)
        or first_name(sender.name, sender.addr)
        or first_name(person.name, person.addr)
        or closing_name(original)
    )
    # the quote at each length it may be shortened to, worked out once
    quotes = {words: the_ask(original, main, words) for words in QUOTE_LENGTHS}
    if not quotes[MAX_QUOTE_WORDS]:
        raise DraftError(f"the message shows no ask for {main} to answer")
    values = {
        "greeting": f"Hi {first}," if first else "Hello,",
        "first_name": first or "there",
        "sender_name": clean_text(sender.name, 80) or sender.addr,
        "sender_email": person.addr,
        "subject": clean_text(strip_reply_prefixes(original.subject), 120),
        "your_name": clean_text(drafts.from_name, 120),
        "your_email": user_address,
        "signature": signature_block(drafts),
        "situation": situation_lead(shown),
        "context": situation_context(shown),
        "request": plain_request(main, quotes[MAX_QUOTE_WORDS]),
        "event": reading.event or "we met",
        "mutual": reading.mutual or _INTRODUCER_FALLBACK,
        "introducer": context.introducer or _INTRODUCER_FALLBACK,
        "introduced_to": context.introduced_to or _INTRODUCED_TO_FALLBACK,
        "offense": OFFENSE_NAMES[main],
        "also": _join_mentions([OFFENSE_MENTIONS[c] for c in others[:MAX_MENTIONS]]),
    }
    key = message_key(original)
    meeting = asks_for_meeting(original)
    signature_words = word_count(values["signature"])
    modes = [(True, True), (False, True)] if others else [(False, True)]
    if templates.overridden:
        modes += [(with_also, False) for with_also, _ in modes]
    fallback: Letter | None = None
    for (with_also, use_overrides), quote_words in product(modes, QUOTE_LENGTHS):
        values["ask"] = quotes[quote_words]
        plan = _plan(
            templates,
            main,
            shown,
            reading,
            with_also,
            use_overrides,
            proposes_meeting=meeting,
            wants_details=asks_for_contact_details(values["ask"]),
            kind=ask_kind(values["ask"]),
        )
        sizes = [len(variants) for _, variants in plan.parts]
        starts = [_seed(key, name) % len(variants) for name, variants in plan.parts]
        for attempt, offsets in enumerate(product(*(range(s) for s in sizes))):
            if attempt >= MAX_ATTEMPTS:
                break
            chosen = [
                variants[(start + offset) % len(variants)]
                for (_, variants), start, offset in zip(plan.parts, starts, offsets, strict=True)
            ]
            text = "\n\n".join(safe_format(v, values).strip() for v in chosen).strip() + "\n"
            letter = Letter(
                text=text,
                words=word_count(text) - signature_words,
                main_offense=main,
                offenses=codes,
                user_is_introducer=intro,
                fingerprint=fingerprint(text),
                used_overrides=use_overrides
                and any(name in templates.overridden for name, _ in plan.parts),
                parts=tuple(name for name, _ in plan.parts),
            )
            if letter.fingerprint in avoid:
                continue
            if letter.words < WORD_LIMIT:
                return letter
            if fallback is None or letter.words < fallback.words:
                fallback = letter
    if fallback is None:  # every combination was in `avoid`: repeat rather than fail
        return compose_letter(
            original, offenses, drafts, user_address, recipient=recipient, templates=templates
        )
    log.warning(
        "feedback draft has %d words (limit %d): the signature is long", fallback.words, WORD_LIMIT
    )
    return fallback


_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|odp|ynt|rif|r|ref|fwd?|fw|wg|tr|rv|enc)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def strip_reply_prefixes(subject: str) -> str:
    """ "RE: Aw: Fwd: Hello" -> "Hello": reply and forward prefixes of common languages."""
    return _REPLY_PREFIX.sub("", subject, count=1).strip()
