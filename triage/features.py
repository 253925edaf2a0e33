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
from itertools import compress, product

import numpy as np

from triage.message import Message

MAX_MODEL_TEXT = 2_000
MAX_SIGNAL_TEXT = 2_500
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NOT_TOKEN_TO_SPACE = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))
_ALTERNATIVES = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|(\S+)")


# First word of every phrase any signal looks for -> the phrase lengths starting with it.
_PHRASE_STARTS: dict[str, set[int]] = {}


def phrases(*patterns: str) -> frozenset[tuple[str, ...]]:
    """Expand "(could|would) you [please] introduce" into the word tuples it stands for.

    `(a|b)` is a choice, `[a|b]` an optional choice. Matching whole words against a set is far
    faster than running dozens of regular expressions, and the lists stay readable.
    """
    expanded: set[tuple[str, ...]] = set()
    for pattern in patterns:
        choices: list[list[tuple[str, ...]]] = []
        for choice, optional, word in _ALTERNATIVES.findall(pattern.lower()):
            options = (choice or optional or word).split("|")
            alternatives = [tuple(option.split()) for option in options]
            if optional:
                alternatives.append(())
            choices.append(alternatives)
        for combination in product(*choices):
            words = tuple(w for part in combination for w in part)
            if words:
                expanded.add(words)
                _PHRASE_STARTS.setdefault(words[0], set()).add(len(words))
    return frozenset(expanded)


@dataclass(frozen=True)
class Text:
    """A message's new text, tokenised once for every phrase signal."""

    raw: str
    lower: str
    tokens: tuple[str, ...]
    grams: frozenset[tuple[str, ...]]  # the word n-grams that could be a known phrase

    @classmethod
    def of(cls, raw: str) -> Text:
        lower = raw.lower().replace("\u2019", "'")
        if lower.isascii() and "'" not in lower:
            # _TOKEN's runs of [a-z0-9], found by one bytes.translate and a split
            tokens = tuple(lower.encode("ascii").translate(_NOT_TOKEN_TO_SPACE).decode(
                "ascii").split())
        else:
            tokens = tuple(_TOKEN.findall(lower))
        grams: set[tuple[str, ...]] = set()
        starts = _PHRASE_STARTS
        # only the positions of words that start a phrase reach Python code
        for i in compress(range(len(tokens)), map(starts.__contains__, tokens)):
            for n in starts[tokens[i]]:
                grams.add(tokens[i : i + n])
        return cls(raw, lower, tokens, frozenset(grams))


@dataclass(frozen=True)
class Signal:
    name: str
    description: str  # completes "this message ..." in explanations
    compute: Callable[[Message, Text], float] | None  # None: derived from the other signals
    reason: bool = True  # worth naming as a reason; "is long" weighs in but explains nothing


def _phrase_count(
    patterns: frozenset[tuple[str, ...]], cap: int = 3, extra: re.Pattern[str] | None = None,
    substrings: tuple[str, ...] = (), extra_needs: tuple[str, ...] = (),
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


_INTRO_ASK = phrases(
    "introduce me", "intro me", "(an|a|the) (intro|introduction) to", "connect me (with|to)",
    "put me in touch", "(could|would|can|will) you [please] (connect|introduce|intro)",
    "make an (intro|introduction)", "warm (intro|introduction)", "loop me in with",
    "point me (to|towards) (the right|someone)", "(love|appreciate) an (intro|introduction)",
    "(intro|introduction) to your", "get in front of", "be introduced to",
)
_NETWORK = phrases(
    "your (network|contacts|connections|circle|followers|audience|friends|colleagues)",
    "anyone you know", "anyone in your", "(know|knows) [of] (anyone|someone|somebody)",
    "forward (this|it|my|our)", "share (this|it|my|our) with", "pass (this|it) (along|on)",
    "spread the word", "tag [3|three|a|your] friends", "who might (be interested|need)",
    "(friends|family) who",
)
_REWARD = phrases(
    "gift card", "commission", "finder's fee", "finders fee", "bonus", "per referral",
    "for (every|each) (referral|friend|person|client|signup|introduction)",
    "referral (fee|program|programme|reward|bonus|link|code)", "earn up to", "paid referral",
)
_MONEY = re.compile(r"[$€£]\s?\d|\d\s?(?:usd|eur|gbp|USD|EUR|GBP)\b")
_MLM = phrases(
    "financial freedom", "be your own boss", "(work|working) from (home|your phone)",
    "extra income", "side hustle", "passive income", "join (my|our) team", "residual income",
    "business opportunity", "time freedom", "ground floor", "fire your boss",
    "my (business|team) is growing", "wellness business", "brand ambassador",
    "life changing", "make money", "your own business", "from your phone", "income stream",
    "mompreneur", "boss babe",
)
_JOB_ASK = phrases(
    "(looking|searching|seeking) for [a|new|any] "
    "(job|role|position|work|opportunity|opportunities)",
    "open (roles|positions|vacancies)", "refer me", "my (resume|cv)", "hire me",
    "what do you have", "what can you (do|offer)", "any (openings|opportunities|jobs|vacancies)",
    "help me (find|get) a job", "job opportunities", "i am (looking|available) for",
)
_HOMEWORK = phrases(
    "i (read|loved|enjoyed|listened to|watched|saw) your",
    "your [recent|latest] (article|post|talk|paper|book|podcast|thread|essay|keynote"
    "|newsletter|research|presentation|interview)",
    "your work on", "i noticed [that] you", "you (wrote|mentioned|said|shared|argued)",
)
_OFFER = phrases(
    "happy to (help|share|introduce|connect|send|chat)", "let me know if (i|there)",
    "if (it's|it is|it would be|that's) (helpful|useful)", "i can (help|send|share|introduce)",
    "no pressure", "no worries if not", "feel free to (ignore|say no|pass)",
    "totally understand if", "(anything|something) i can do", "thought (you|this) might",
    "in case it's useful", "for what it's worth",
    # an easy way out of the ask
    "(totally|completely|fully) (understand|get it)", "(i|i'll) understand if",
    "if (you're|you are) [too] busy", "if you('d| would) rather not", "if you prefer not",
    "no problem if not", "if not no worries", "no worries at all",
)
_THANKS = phrases("thank", "thanks", "grateful", "appreciate", "appreciated", "thx", "gracias",
                  "merci")
_CONGRATS = phrases("congrats", "congratulations", "congratulation", "congratulate",
                    "well deserved", "so proud", "happy for you", "kudos", "mazel tov")
_HISTORY = phrases(
    "we met", "(great|good|lovely|nice) (meeting|seeing|chatting|talking)",
    "(great|good|lovely|nice) to (meet|see)", "(worked|working) together", "since (we|our)",
    "last time we", "remember (when|our)", "long time", "been (a while|ages|too long)",
    "catch up", "catching up", "our (chat|call|conversation|coffee|lunch)",
)
_TEMPLATE = phrases(
    "came across your (profile|company|website)", "hope (this|my) (email|message|note) finds you",
    "quick question", "touch base", "synergy", "synergies", "i'd love to add you",
    "mutually beneficial", "explore [potential|possible] (opportunities|collaboration)",
    "decision maker", "decision makers",
)
# An unfilled merge field ("Hi {{FirstName}}", "[Name]"): also what tells a letter
# (triage.draft_warmth) that the message went to many people.
MERGE_FIELD = re.compile(
    r"\{\{|\}\}|\[(?:first ?name|name|company)\]|%[A-Z_]{3,}%|\{(?:first_?name|company|name)\}",
    re.I,
)
_CALENDAR = phrases(
    "book [a|some] (time|call|slot|meeting)", "grab [a] (time|slot)", "my calendar",
    "(15|20|30) (min|mins|minute|minutes)",
)
# Scheduling links, found by substring: a case-insensitive alternation costs 60 us a message.
_CALENDAR_LINKS = ("calendly.com", "chilipiper", "savvycal", "cal.com/", "meetings.hubspot",
                   "hubspot.com/meetings", "zcal.co", "tidycal")
_BUMP = phrases(
    "bump", "bumping", "top of your inbox", "(circle|circling) back", "following up on my",
    "(follow|following) up (on|again)", "did you (get|have) a chance", "haven't heard back",
    "close (your|the|out your) file", "last (attempt|try|email)", "floating this",
)
_PITCH = phrases(
    "our (platform|solution|service|product|agency|company|software|tool|clients)",
    "we help", "we (work|partner) with", "case study", "case studies", "demo", "pricing",
    "roi", "leads", "revenue", "free trial", "discount", "limited (time|spots)", "investment",
    "returns", "scale your", "grow your",
)
_JOB_OFFER = phrases(
    "(we're|we are|i'm|i am) hiring", "(the|this|a) (role|position|opening)", "hiring manager",
    "open to [new] opportunities", "compensation", "base salary", "salary range",
    "job description", "(recruiting|hiring) for", "recruiter", "talent partner",
    "(remote|hybrid|onsite) (role|position)", "relocation", "your background",
)
_ASKS_FOR_CALL = phrases(
    "quick call", "(hop|jump) on a call", "(15|20|30) (minute|min) (call|chat)",
    "open to a (call|chat|conversation)", "worth a (chat|call|conversation)",
    "(would|are) you be open to", "(would|are) you open to", "set up a (call|time|meeting)",
    "schedule a (call|demo|meeting)", "find (some) time", "(free|available) (this|next) week",
    "(book|grab) (a|some) time", "let's connect",
)
# Who offers whom an introduction: "want me to connect you with Priya?" gives, "could you
# connect me with Priya?" asks. Real introducers offer far more often than our corpus showed.
_INTRO_OFFER = phrases(
    "(introduce|introduced|intro|connect|connected) you (to|with)", "put you in touch",
    "(happy|glad) to (introduce|intro|connect) you", "(want|like) me to (introduce|intro|connect)",
    "(want|like) an (intro|introduction)", "open to an (intro|introduction)",
    "(i|we) can (introduce|intro|connect) you", "make the (intro|introduction)",
    "(gave|passed|shared) your (name|details|info|email|number)", "referred (someone|a|him|her"
    "|them) to you", "(sent|sending) (someone|him|her|them) your way", "you two should",
    "(mind|ok|okay|alright) if i (introduce|introduced|intro|connect|connected|put)",
    "(may|can|could|should) i (introduce|intro|connect) you",
    "(i'd|i would) (love|like) to (introduce|connect|intro) you",
    "(up for|open to|interested in|keen on) (an|a) (intro|introduction|connection)",
    "(open|willing|happy|up) (to|for) (meet|meeting|chat with|chatting with|talk to|talking to"
    "|speak with|speaking with|connect with|connecting with|hear from|hearing from) (him|her"
    "|them)", "(introduce|intro|connect) (you two|the two of you|you both)",
    "(be|being) introduced", "(ok|okay|alright|fine) to (introduce|intro|connect)",
    "(call|chat|coffee|meeting) with my (friend|colleague|former colleague|mentee|cousin"
    "|brother|sister|nephew|niece|son|daughter|student|client)",
)
# A request made of the reader, in the forms people use to ask for something.
_ASKS_OF_YOU = phrases(
    "(could|would|can|will) you [please] (help|share|send|review|introduce|connect|forward"
    "|consider|look|take|give|spare|let|tell|recommend|refer|check|make|advise|answer|point)",
    "(are|would) you [be] (open|interested|available|willing|able)",
    "i was wondering (if|whether)",
    "would it be possible", "do you have (time|a few|any|some)", "(i'd|i would) (love|like) to"
    " (get|pick|hear|ask|chat|connect|talk|schedule|set|book|learn|show|discuss)",
    "please (let|send|share|consider|help|review|forward|reply|get back)",
    "looking for (advice|help|feedback|guidance|a mentor|mentorship|support|sponsors|partners)",
    "(any|some) (advice|help|pointers|guidance) (would|you)", "i need your (help|advice|support)",
    "if you could", "let me know if you('re| are) (interested|open|available)",
    "(interested|open) in (a|an|learning|hearing|exploring)",
)
# Opening moves of a first message from someone the reader does not know.
_STRANGER = phrases(
    "we (haven't|have not|havent) (met|spoken|talked)", "you don't know me", "my name is",
    "(i|we) came across", "(i'm|i am) reaching out", "reaching out (to|because|regarding)",
    "allow me to introduce myself", "let me introduce myself", "(i|we) stumbled (on|upon|across)",
    "(i|we) found your (profile|email|contact|website|project|repo|channel|blog)",
    "hope you don't mind (me|my)", "sorry for the cold", "cold (email|message|outreach|note)",
    "a fellow", "introduce myself",
)
# Mail written to a group, which the conventions make `other` however warm it is.
_GROUP = phrases(
    "(hi|hello|hey|dear|morning|welcome) (all|everyone|everybody|folks|team|y'all|members"
    "|friends|colleagues|community|guys|people|list)", "to all (of you|members|our)",
    "thanks (everyone|all|all of you)", "thank you (everyone|all|all of you)",
    "each (and every one )?of you", "everyone who", "all (members|attendees|contributors)",
    "(our|the) (community|members|attendees|subscribers|readers)",
)
# An application to a posted job: ordinary work mail, not a job seeker's cold ask.
_APPLICATION = phrases(
    "(application|applying) (for|to) the", "(role|position|vacancy|job) (you|that you) posted",
    "(job|your) (posting|advert|advertisement|ad|listing) (for|on)", "reference (number|no)",
    "please find (attached|enclosed) my", "(attached|enclosed) (is|are) my",
    "to apply (for|to)", "(submit|submitting) my application", "my application (for|to)",
    "(position|role|vacancy|job|opening) (advertised|listed|posted) (on|at|in)",
    "(saw|seen|found) your (job )?(posting|ad|advert|advertisement|listing|vacancy)",
    "interested in applying", "i am applying", "i'm applying",
    "(interest|interested) in the (position|role|opening|vacancy|post)",
    "(consider|considered) [me] for the (position|role|opening|vacancy|post)",
    "consider my application", "express my interest", "your (opening|vacancy) for",
)
_UNSUBSCRIBE = ("unsubscribe", "opt out", "opt-out", "reply stop", "manage preferences",
                "manage your preferences", "email preferences")
_GENERIC_GREETING = _rx(
    r"^\s*(hi|hello|hey|dear|greetings)\s*(there|friend|sir|madam|sir/madam|team|all)?\s*[,!.:]?\s*$"
)
_INTRO_SUBJECT = _rx(r"\b(intro|introduction|introducing|connecting|meet)\b|<>|\s(<->|&|\+|x)\s")
_INTRO_QUOTE = _rx(
    r"\b(i'?d like to introduce|let me introduce|(want|wanted|happy|delighted|glad) to (introduce"
    r"|connect) (you|the two)|introducing (you|the two)|meet \w+[,.!]|connecting you (two|both)"
    r"|you two should (meet|talk|connect)|moving (me|\w+) to bcc|double opt-in)"
)
_YOU = frozenset({"you", "your", "yours", "you're", "you've", "you'd", "you'll"})
_WE = frozenset({"i", "we", "our", "my", "us", "i'm", "we're", "i've", "we've", "i'd", "i'll"})
# a question: the run of text before a "?" since the previous ".", "?", "!" or line break; the
# lookbehind starts matches at run starts only, instead of retrying from every character of a
# run that ends in "." (quadratic in the run length, a tenth of all feature time)
_QUESTION = re.compile(r"(?<![^.?!\n])[^.?!\n]*\?")
_NOREPLY = _rx(
    r"(no-?reply|do-?not-?reply|notifications?|mailer-daemon|bounce|alerts?@|news@|info@)"
)
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


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
    return float("list-unsubscribe" in msg.headers or any(p in tail for p in _UNSUBSCRIBE))


def _noreply_sender(msg: Message, _text: Text) -> float:
    return float(bool(msg.sender and _NOREPLY.search(msg.sender.addr)))


def _platform_without_note(msg: Message, text: Text) -> float:
    return float(bool(msg.platform) and len(text.tokens) < 4)


def _reply_context(msg: Message, _text: Text) -> float:
    return float(bool(msg.in_reply_to or msg.references or msg.quoted_text))


# Every _INTRO_QUOTE match contains one of these, lower-cased; characters that match an ASCII
# letter case-insensitively without lower-casing to it send the text to the regex anyway.
_INTRO_QUOTE_NEEDS = ("introduc", "connect", "meet", "you two", " bcc", "double opt-in")
_ODD_CASE = ("\u017f", "\u0131", "\u0130", "\u212a")


def _may_introduce(text: str) -> bool:
    lower = text.lower()
    return any(word in lower for word in _INTRO_QUOTE_NEEDS) or (
        not text.isascii() and any(c in text for c in _ODD_CASE))


def _introduction_context(msg: Message, _text: Text) -> float:
    """An introduction is named in the subject or in the quoted message; a Cc (the introducer)
    only adds to that evidence, never stands for it: list replies are full of Cc lines."""
    subject_says = bool(_INTRO_SUBJECT.search(msg.subject))
    quoted = msg.quoted_text[:3000]
    quote_says = _may_introduce(quoted) and bool(_INTRO_QUOTE.search(quoted))
    if not (subject_says or quote_says):
        return 0.0
    return (subject_says + quote_says + bool(msg.cc)) / 3


def _calendar_invite(msg: Message, _text: Text) -> float:
    return float(msg.has_calendar)


_REFERRAL_WORDS = frozenset({"refer", "refers", "referral", "referrals", "referred", "referring",
                             "intro", "intros", "introduction", "introductions", "recommend",
                             "recommendation", "bring", "signup", "signups"})
_reward_phrases = _phrase_count(_REWARD)


def _offers_reward(msg: Message, text: Text) -> float:
    """Reward phrases, plus amounts of money, but amounts only where referrals are the topic:
    a treatment plan or an invoice quotes prices too."""
    score = _reward_phrases(msg, text)
    if _REFERRAL_WORDS.isdisjoint(text.tokens):
        return score
    return min(score + len(_MONEY.findall(text.raw)) / 3, 1.0)


def _many_recipients(msg: Message, _text: Text) -> float:
    """Written to a crowd: many addressees on To and Cc."""
    return float(len(msg.to) + len(msg.cc) >= 6)


def _length(_msg: Message, text: Text) -> float:
    return min(math.log1p(len(text.tokens)) / math.log1p(400), 1.0)


def _links(msg: Message, text: Text) -> float:
    urls = len(_URL.findall(text.raw)) if "://" in text.raw else 0
    return min(urls + len(msg.links), 5) / 5


def _you_focus(_msg: Message, text: Text) -> float:
    you = sum(map(_YOU.__contains__, text.tokens))
    me = sum(map(_WE.__contains__, text.tokens))
    return you / (you + me) if you + me else 0.5


def _questions_for_you(_msg: Message, text: Text) -> float:
    if "?" not in text.raw:
        return 0.0
    # Split at every ".", "?", "!" and line break, the pieces that end with "?" are the runs
    # of text before each "?" since the previous such mark.
    questions = _QUESTION.findall(text.raw.lower())
    asked = sum(1 for sentence in questions if not _YOU.isdisjoint(_TOKEN.findall(sentence)))
    return min(asked, 3) / 3


def _generic_greeting(_msg: Message, text: Text) -> float:
    first = text.raw.lstrip().split("\n", 1)[0]
    return float(bool(_GENERIC_GREETING.match(first)))


def _emoji(_msg: Message, text: Text) -> float:
    if text.raw.isascii():  # every _EMOJI character is beyond ASCII
        return 0.0
    return min(len(_EMOJI.findall(text.raw)), 4) / 4


SIGNALS: tuple[Signal, ...] = (
    Signal("asks_introduction", "asks you to introduce them to someone",
           _phrase_count(_INTRO_ASK, 2)),
    Signal("mentions_network", "asks about or into your network or contacts",
           _phrase_count(_NETWORK)),
    Signal("offers_reward", "offers money or rewards for referrals", _offers_reward),
    Signal("mlm_language", "uses multi-level-marketing language", _phrase_count(_MLM)),
    Signal("asks_for_job", "asks for a job or what you can do for them",
           _phrase_count(_JOB_ASK, 2)),
    Signal("shows_homework", "shows they read or know your work", _phrase_count(_HOMEWORK, 2)),
    Signal("offers_help", "offers help or makes it easy to say no", _phrase_count(_OFFER)),
    Signal("thanks", "thanks you", _phrase_count(_THANKS, 2)),
    Signal("congratulates", "congratulates you", _phrase_count(_CONGRATS, 2)),
    Signal("shared_history", "refers to history you share", _phrase_count(_HISTORY, 2)),
    Signal("template_markers", "reads like a template or mass mail",
           _phrase_count(_TEMPLATE, extra=MERGE_FIELD, extra_needs=("{", "}", "[", "%"))),
    Signal("calendar_link", "pushes a calendar link or a meeting slot",
           _phrase_count(_CALENDAR, 2, substrings=_CALENDAR_LINKS)),
    Signal("bump_followup", "bumps an earlier unanswered message", _phrase_count(_BUMP, 2)),
    Signal("sales_language", "talks about their product, pricing or results",
           _phrase_count(_PITCH)),
    Signal("offers_job", "recruits you for a job", _phrase_count(_JOB_OFFER)),
    Signal("asks_for_call", "asks for a call or a meeting", _phrase_count(_ASKS_FOR_CALL, 2)),
    Signal("questions_for_you", "asks questions about you", _questions_for_you),
    Signal("you_focus", "is about you rather than them", _you_focus),
    Signal("generic_greeting", "opens with a generic greeting", _generic_greeting),
    Signal("bulk_headers", "carries bulk or automated-mail headers", _bulk_headers),
    Signal("unsubscribe", "has an unsubscribe link or line", _unsubscribe),
    Signal("noreply_sender", "comes from a no-reply or notification address", _noreply_sender),
    Signal("platform_without_note", "is a platform invitation with no personal note",
           _platform_without_note),
    Signal("reply_context", "replies to an earlier message", _reply_context),
    Signal("introduction_context", "follows or makes an introduction", _introduction_context),
    Signal("calendar_invite", "is a calendar invitation", _calendar_invite),
    Signal("offers_introduction", "offers to introduce you or has referred someone to you",
           _phrase_count(_INTRO_OFFER, 2)),
    Signal("asks_of_you", "asks something of you", _phrase_count(_ASKS_OF_YOU)),
    Signal("stranger_opening", "opens as a first message from a stranger",
           _phrase_count(_STRANGER, 2)),
    Signal("only_gives", "thanks, congratulates or offers help without asking for anything",
           None),
    Signal("written_to_group", "is written to a group rather than to you",
           _phrase_count(_GROUP, 2)),
    Signal("many_recipients", "went to many recipients", _many_recipients),
    Signal("applies_to_posting", "applies to a posted job", _phrase_count(_APPLICATION, 2)),
    Signal("length", "is long", _length, reason=False),
    Signal("links", "contains links", _links, reason=False),
    Signal("emoji", "uses emoji", _emoji, reason=False),
)
SIGNAL_NAMES = tuple(signal.name for signal in SIGNALS)
# The phrase lists behind the ask signals, for triage.draft_facts, which finds the sentence of a
# message that makes the ask a feedback draft answers.
ASK_PHRASES: dict[str, frozenset[tuple[str, ...]]] = {
    "introduction": _INTRO_ASK, "network": _NETWORK, "reward": _REWARD, "mlm": _MLM,
    "job": _JOB_ASK, "pitch": _PITCH | _CALENDAR | _ASKS_FOR_CALL, "stranger": _STRANGER,
}
QUIET_SIGNALS = frozenset(f"signal:{s.name}" for s in SIGNALS if not s.reason)
_ONLY_GIVES = SIGNAL_NAMES.index("only_gives")
_ASKS = tuple(SIGNAL_NAMES.index(name) for name in (
    "asks_of_you", "asks_introduction", "asks_for_job", "asks_for_call", "mentions_network",
    "calendar_link"))
_GIVES = tuple(SIGNAL_NAMES.index(name) for name in (
    "thanks", "congratulates", "offers_help", "offers_introduction"))


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


def signal_vector(msg: Message) -> list[float]:
    raw = msg.new_text if msg.new_text or msg.platform else msg.body
    text = Text.of(raw[:MAX_SIGNAL_TEXT])
    values = [signal.compute(msg, text) if signal.compute else 0.0 for signal in SIGNALS]
    values[_ONLY_GIVES] = _only_gives(values)
    return values


def prepare(messages: Sequence[Message]) -> np.ndarray:
    """Rows of [model text, signal 1, signal 2, ...]: the input of the model pipeline."""
    rows = np.empty((len(messages), 1 + len(SIGNALS)), dtype=object)
    for i, msg in enumerate(messages):
        rows[i, 0] = model_text(msg)
        rows[i, 1:] = signal_vector(msg)
    return rows
