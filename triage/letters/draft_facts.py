"""What a feedback draft may say about the message it answers, read from that message alone.

A draft quotes the sender's own ask (a short sentence of theirs, not a summary of what the model
thinks), names the situation only when the message shows it (an introduction, an event where
they met, an existing working relationship, a reply in a thread, a first message), and greets
the sender by the name they sign with. Nothing here is guessed: where the message does not show
a fact, the letter does not state it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage.message.parse import Message
from triage.model.features import ASK_PHRASES
from triage.model.phrases import Text, phrases

MAX_QUOTE_WORDS = 45
MIN_ASK_SCORE = 2  # a word of the offense's ask (the form of an ask adds one)
# The words that carry each offense's ask: the known phrases of the signals, and looser words
# that such asks are made of ("forward", "names", "downline", "pilot", an amount).
_OFFENSE_PHRASES = {
    "introduction-ask": ASK_PHRASES["introduction"],
    "network-harvesting": ASK_PHRASES["network"],
    "referral-bounty": ASK_PHRASES["reward"],
    "mlm-recruiting": ASK_PHRASES["mlm"],
    "what-can-you-do-for-me": ASK_PHRASES["job"]
    | phrases(
        "what (roles|openings|positions|jobs|opportunities|vacancies) do you have",
        "(looking|searching|seeking) for [a|any] new (job|role|position|opportunity)",
        "what (can|could) you do for me",
        "(anything|something) for me",
        "what do you have",
    ),
    "pitch-on-introduction": ASK_PHRASES["pitch"],
}
_MONEY_WORDS = r"[$€£₦¥₹]\s?\d|\d\s?(?:usd|eur|gbp|k)\b|\d+\s?%"
_OFFENSE_WORDS = {
    "introduction-ask": re.compile(
        r"(?i)\bintro|introduc|in touch with|connect me|"
        r"\bcontact (at|in)\b"
    ),
    "network-harvesting": re.compile(
        r"(?i)\b(forward|share|post|announce|pass (it|this)|spread|names|"
        r"emails|contacts|network|followers|list|everyone|friends"
        r"|group|members|colleagues|department)\b"
    ),
    "referral-bounty": re.compile(
        rf"(?i)\brefer|bonus|reward|commission|\bfee\b|\bpay|"
        rf"\bfree\b|\bgift|voucher|\boff\b|\bfor (every|each)\b|"
        rf"\b(your|our|my) way\b|{_MONEY_WORDS}"
    ),
    "mlm-recruiting": re.compile(
        rf"(?i)\bjoin|\bteam\b|downline|upline|sign[- ]?up|\bkit\b|"
        rf"enrol|opportunit|income|partner|recruit|sponsor|level|"
        rf"leaders?\b|mentor|business|wellness|"
        rf"{_MONEY_WORDS}"
    ),
    "what-can-you-do-for-me": re.compile(
        r"(?i)\b(job|role|position|opening|hire|hiring|payroll"
        r"|resume|cv|offer|equity|opportunit\w*|anything|"
        r"visa|work for|contractor|get it to|help me)\b"
    ),
    "pitch-on-introduction": re.compile(
        rf"(?i)\b(demo|pilot|pricing|price|contract|proposal|"
        rf"order|licen[cs]e|discount|retainer|quote|sign|call|"
        rf"meeting|book|calendar|agreement|catering|per head|"
        rf"per month|subscription)\b|{_MONEY_WORDS}"
    ),
}
_ASK_MARKERS = re.compile(
    r"(?i)\b(could|would|can|will|won't) you\b|\byou (could|can)\b|\bplease\b"
    r"|\bwould you mind\b|\blet me know\b"
    r"|\b(i'?d|i would) love (for )?you\b|\bwant me to\b|\b(can|could|shall) we\b"
    r"|\bi need\b|\bneed (you|an?)\b|\bsend me\b|\bgive me\b|\bjust need\b|\bhelp me\b"
    r"|\breply with\b|\bjust (send|reply|email|forward|announce|share|post|mention)\b"
    r"|\bif you('d| could| would)\b"
    r"|\bit would mean (so much|a lot)\b"
    r"|^(join|sign up|forward|share|post|send|grab|book|click|reply|introduce|connect)\b"
)
_MET_AT_EVENT = re.compile(
    r"(?i)\bwe met\b|\bmet you\b|\bmeeting you\b|\bmet at\b"
    r"|\b(met|meet|meeting|introduced|bump(ed)? into|sat next to|chatted|chatting|spoke"
    r"|speaking|talked|talking|saw you|see you|great to)\b[^.!?\n]{0,80}"
    r"\b(summit|conference|mixer|meetup|meet-up|retreat|expo|fair|panel|workshop|talk|dinner"
    r"|reception|ceremony|party|event|festival|hackathon|booth|gala|breakfast|lunch|webinar"
    r"|session|class|course|wedding)\b"
)
# "our partners" and "a partner" are the sender's own relations, not the user's
# Someone the user knew before, resurfacing: an old classmate, teammate or colleague. Both
# blind readers found such senders answered as strangers.
_SHARED_PAST = re.compile(
    r"(?i)\blong time no (see|speak|talk|chat)\b|\bit'?s been (ages|forever|years|so long)\b"
    r"|\b(do you )?remember me\b|\b(we|you and i) (were|went|studied|played|sat) \w* ?"
    r"(at|to|in|together)\b|\bback (at|in) (school|uni|university|college|high school)\b"
    r"|\bsince (school|uni|university|college|high school|graduation)\b"
    r"|\b(old|former) (classmate|schoolmate|teammate|flatmate|roommate)\b"
    r"|\bfrom (school|uni|college|high school|the old days)\b|\bclass of (19|20)\d\d\b"
)
_WORK_TOGETHER = re.compile(
    r"(?i)\b(your|one of your)\s+(team's\s+)?((longest|long)[- ]standing|long[- ]time|"
    r"existing|loyal)?\s*(client|customer|vendor|supplier|partner|contractor)s?\b"
    r"|\ba\s+((longest|long)[- ]standing|long[- ]time|existing|loyal)\s+(client|customer)\b"
    r"|\byour\s+\w+\s+(vendor|supplier|partner|contractor)\b"
    r"|\b(already|still)\s+(a|our|your)?\s*(client|customer|vendor|partner)"
    r"|\b(clients?|customers?) of your\b|\bfor your (team|company) since\b"
    r"|\b(outsourcing|delivery|implementation|agency) partner\b|\bwork(ing|ed)? (together|with"
    r" your (\w+ )?team)\b|\bour (contract|account|renewal|invoice)\b|\byour (account|invoices?)\b"
)
_FIRST_CONTACT = re.compile(
    r"(?i)\bwe (haven't|have not|havent) (met|spoken|talked)|\byou don't know me\b|\bmy name is\b"
    r"|\b(came|come) across\b|\bfound your\b|\bsaw your (profile|post|page|name)\b|\breaching out"
    r"\b|\bintroduce myself\b|\bcold (email|message)\b|\bstumbled (on|upon|across)\b"
)
# A call, meeting, demo or visit the sender proposes, which the draft declines plainly.
_MEETING = re.compile(
    r"(?i)\b(call|zoom|meeting|coffee|demo|calendly|calendar invite|swing by"
    r"|drop by|stop by|pop (in|into|by|round)|visit your office|hop on|jump on|book (a|some) time"
    r"|put \d+ minutes on your calendar)\b"
)
# An ask for other people's details, which a draft answers with a word on privacy: details
# *of people* ("the names of five friends", "your colleagues' emails", "your contact list").
# Details alone are not enough: blind readers found the privacy note answering "the numbers",
# "big names" and "my email", asks nobody made.
_DETAILS = r"(names|e-?mails?(?: addresses)?|phone numbers?|numbers|contact (?:details|info))"
_PEOPLE = (
    r"(friends?|contacts?|colleagues?|people|family|members?|connections?|folks|leads?"
    r"|owners?|managers?|clients?|customers?|neighbou?rs?|peers?|anyone|someone|others"
    r"|attendees?|guests?|participants?|subscribers?|alumni|students?|staff|employees?)"
)
_CONTACT_DETAILS = re.compile(
    rf"(?i)\b{_DETAILS} (?:of|for) (?:[\w-]+ ){{0,4}}?{_PEOPLE}\b"
    rf"|\b{_PEOPLE}'s?'? {_DETAILS}\b"
    r"|\bcontacts? list\b|\blinkedin profiles of\b"
    r"|\b(attendee|member|guest|participant|subscriber|mailing|e-?mail)s? list\b"
    r"|\b(his|her|their) (names?|e-?mails?|contacts?|contact (details|info)|(phone )?numbers?)\b"
)
# A sentence ends at . ! or ? before a space or the end: "calendly.com/x", "$1.3M" and "0.9%"
# stay inside their sentence.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))+[.!?]*")
# A line break inside a sentence: mail clients wrap plain text at about 72 characters, so a
# long line that does not end a sentence goes on in the next one (a blind reader was shown
# "everything, you just announce it" cut from "I handle everything, ..."). Short lines
# (greetings, sign-offs, list items) keep their break.
_WRAPPED = re.compile(r"(?m)^([^\n]{40,}[^.!?:\s])[ \t]*\n(?=[^\s>])")


def _sentences(msg: Message) -> list[str]:
    """The new text's sentences, wrapped lines joined again."""
    text = _WRAPPED.sub(r"\1 ", (msg.new_text or msg.body)[:20_000])
    return _SENTENCE.findall(text)


_GREETING = re.compile(
    r"(?i)^(hi|hey|hello|dear|good (morning|afternoon|evening))\b[^,!:.]{0,30}"
    r"[,!:.]+\s*"
)


@dataclass(frozen=True)
class Situation:
    """How the sender and the user stand, as the message shows it."""

    kind: str  # "introducer", "introduced", "event", "client", "acquaintance", "thread",
    # "cold" or ""
    introducer: str = ""  # who made the introduction, when it is known
    introduced_to: str = ""  # whom the user introduced the sender to


def the_ask(msg: Message, offense: str, max_words: int = MAX_QUOTE_WORDS) -> str:
    """The sender's own words that make the ask the offense is about, quoted as written: the
    sentence with the most of its ask words, with neighbours that add to the ask, at most
    `max_words`; "" when no sentence shows such an ask."""
    sentences = [_GREETING.sub("", " ".join(s.split())) for s in _sentences(msg)]
    sentences = [s for s in sentences if s]
    best, best_score = -1, 0
    for i, sentence in enumerate(sentences):
        score = _ask_score(sentence, offense)
        if score > best_score:
            best, best_score = i, score
    if best < 0 or best_score < MIN_ASK_SCORE:
        return ""
    # the ask's details are often in the sentence next to it ("... at Acme. Could you
    # introduce me?"): add the neighbour that carries more of them, while the quote stays short
    first = last = best
    while True:
        quote = " ".join(sentences[first : last + 1])
        options = [
            (_neighbour_score(sentences[i], quote, i < first, offense), i)
            for i in (first - 1, last + 1)
            if 0 <= i < len(sentences)
        ]
        options = [(score, i) for score, i in options if score > 0]
        if not options:
            break
        _score, i = max(options)
        words = sum(len(sentences[k].split()) for k in range(min(first, i), max(last, i) + 1))
        if words > max_words:
            break
        first, last = min(first, i), max(last, i)
    return _shorten(" ".join(sentences[first : last + 1]), max_words)


_BACK_REFERENCE = re.compile(r"(?i)\b(their|them|they|her|him|his|she|he)\b")
_NAME = re.compile(r"(?<=[\w,;:] )[A-Z][\w&'-]+")


_HOW_THEY_FOUND_YOU = re.compile(
    r"(?i)\b(saw|found|came across|noticed|stumbled (up)?on|spotted) (your|you)\b"
)


def _neighbour_score(sentence: str, quote: str, before: bool, offense: str) -> int:
    """Whether a sentence next to the quote belongs to the ask: it makes part of the ask, or
    names someone the quote names, or the quote refers back to it ("... their recruiter")."""
    if _HOW_THEY_FOUND_YOU.search(sentence):
        return 0
    score = _ask_score(sentence, offense) + len(_ASK_MARKERS.findall(sentence))
    if set(_NAME.findall(sentence)) & set(_NAME.findall(quote)):
        score += 1
    if before and _BACK_REFERENCE.search(quote):
        score += 1
    return score


def _shorten(sentence: str, max_words: int) -> str:
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    return " ".join(words[:max_words]).rstrip(",;:") + " …"


def _ask_score(sentence: str, offense: str) -> int:
    """How clearly a sentence makes this offense's ask: its words, and the form of an ask."""
    offense_words = 2 * len(Text.of(sentence).grams & _OFFENSE_PHRASES.get(offense, frozenset()))
    offense_words += (
        2 * min(len(_OFFENSE_WORDS[offense].findall(sentence)), 3)
        if offense in _OFFENSE_WORDS
        else 0
    )
    if not offense_words:
        return 0
    asking = min(len(_ASK_MARKERS.findall(sentence)), 2) + sentence.rstrip().endswith("?")
    # how they found the reader ("saw your group on Meetup") is never the ask itself
    return offense_words + asking - 2 * bool(_HOW_THEY_FOUND_YOU.search(sentence))


# A reward for the reader's own time ("a $100 gift card for 20 minutes with our team"): paying
# for attention, which a letter answers differently from a bounty on other people's names.
_REWARD = r"(gift ?cards?|vouchers?|[$£€] ?\d+|\d+ ?(dollars|euros|pounds)|amazon card|free lunch)"
_YOUR_TIME = r"(\d+ ?(min|mins|minutes)\b|\b(call|demo|chat|meeting)s?\b|your time)"
_PAID_ATTENTION = re.compile(
    rf"(?i){_REWARD}[^.!?]{{0,80}}{_YOUR_TIME}|{_YOUR_TIME}[^.!?]{{0,80}}{_REWARD}"
)
# "$100 for every referral who books a demo" rewards other people's time: a bounty.
_PER_REFERRAL = re.compile(r"(?i)\brefer|\bevery\b|\beach\b|\bper\b|\bwho (books|signs|buys)")
# An ask to put something before the reader's own audience: post it in their group, play it on
# their show, mention it in their newsletter.
_TO_AUDIENCE = re.compile(
    r"(?i)\b(post|share|announce|mention|feature|play|pin|include|promote|add)\b[^.!?]{0,50}"
    r"\b(your|the) ([\w-]+ )?(group|newsletter|community|audience|listeners|followers|channel"
    r"|mailing list|page|show|podcast|server|slack|forum|members|readers|subscribers|meetup)\b"
)
# An ask that reaches for the people who work with or for the reader: "share to your temps",
# "pass it to your team", "your nurses would love this".
_TO_YOUR_PEOPLE = re.compile(
    r"(?i)\b(share|pass|forward|send|show|offer|tell|introduce|recruit|post)\b[^.!?]{0,40}"
    r"\byour (own )?(temps|staff|team|employees|workers|nurses|students|interns|volunteers"
    r"|reports|contractors|colleagues|people)\b"
)


def ask_kind(ask: str) -> str:
    """What the quoted ask is after, where an offense's usual reason would not fit it:
    "attention" (a reward for the reader's own time), "staff" (the people who work with or
    for the reader), "audience" (a place before the reader's group, readers or listeners),
    else ""."""
    if any(
        _PAID_ATTENTION.search(sentence) and not _PER_REFERRAL.search(sentence)
        for sentence in re.split(r"[.!?]\s", ask)
    ):
        return "attention"
    if _TO_YOUR_PEOPLE.search(ask):
        return "staff"
    if _TO_AUDIENCE.search(ask):
        return "audience"
    return ""


def asks_for_contact_details(ask: str) -> bool:
    """The quoted ask wants other people's names, emails, numbers or contact details."""
    return bool(_CONTACT_DETAILS.search(ask))


# A meeting the sender has already put in the user's diary ("I've put a demo in for Thursday,
# just accept the invite"): as much an ask as a question, and one a letter should decline.
_BOOKED = re.compile(
    r"(?i)\b(i'?ve|i have) (put|booked|scheduled|blocked|pencilled|penciled|sent)\b"
    r"|\baccept the (calendar )?invite\b|\bsee you (on|at|then)\b"
)


def asks_for_meeting(msg: Message) -> bool:
    """A sentence of the message asks for a call, meeting, demo or visit, or books one (a
    question, an ask or a booking, not a mention of one)."""
    return any(
        _MEETING.search(sentence)
        and (
            sentence.rstrip().endswith("?")
            or _ASK_MARKERS.search(sentence)
            or _BOOKED.search(sentence)
        )
        for sentence in _sentences(msg)
    )


def situation(
    msg: Message,
    user_is_introducer: bool,
    introducer: str,
    introduced_to: str,
    introduction_shown: bool,
) -> Situation:
    """The situation the draft may name, strongest evidence first."""
    if user_is_introducer:
        return Situation("introducer", introduced_to=introduced_to)
    if introduction_shown:
        return Situation("introduced", introducer=introducer)
    if msg.in_reply_to or re.match(r"(?i)\s*(re|aw|sv)\s*:", msg.subject):
        return Situation("thread")
    text = (msg.new_text or msg.body)[:5_000]
    if _MET_AT_EVENT.search(text):
        return Situation("event")
    if _WORK_TOGETHER.search(text):
        return Situation("client")
    if _SHARED_PAST.search(text):
        return Situation("acquaintance")
    if _FIRST_CONTACT.search(text) or Text.of(text).grams & ASK_PHRASES["stranger"]:
        return Situation("cold")
    return Situation("")
