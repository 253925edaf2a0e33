"""What a feedback letter should be kind about, read from the message alone.

A letter a user would sign starts with what is genuinely good (they answered a question, they
followed up after an event, they were introduced by a friend, they sent congratulations) and
treads gently where the sender is vulnerable (out of work, just moved country, a student).
When the sender writes in a second language or in text-speak, quoting them word for word reads
as mocking, so the letter says plainly what they asked instead. A message with an unfilled
merge field went to many people, and the letter says so without blame. As in
triage.draft_facts, nothing here is guessed: a fact the message does not show is not read into
it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage.message.parse import Message
from triage.model.vocabulary import MERGE_FIELD

_TEXT_LIMIT = 5_000

# A named event where they met: "at the DevRel Summit", "from the yoga retreat in Tulum". A
# lower-case name needs an article ("at lunch" is not an event).
_EVENT_WORD = (
    r"(?:[Ss]ummit|[Cc]onference|[Mm]ixer|[Mm]eetup|[Mm]eet-up|[Ee]xpo|[Ff]air"
    r"|[Ww]orkshop|[Bb]reakfast|[Ff]estival|[Hh]ackathon|[Gg]ala|[Rr]etreat|[Dd]inner"
    r"|[Ll]unch|[Rr]eception|[Ww]ebinar)\b(?:\s+in\s+[A-Z][\w'-]+)?"
)
_EVENT = re.compile(
    r"\b(?:at|from|during)\s+"
    rf"(?:(?:the|our|your)\s+((?:[\w&'’-]+\s+){{0,3}}?{_EVENT_WORD})"
    rf"|((?:[A-Z][\w&'’-]*\s+){{1,3}}{_EVENT_WORD}))"
)
# They answered a question the user asked: how a reply that answers begins.
_ANSWER = re.compile(
    r"(?i)\b(?:good|great) question\b|\bto answer your\b|\bshort answer\b"
    r"|\bglad (?:that|it|this) (?:helped|fixed it|worked)\b|\bhappy to help\b"
    r"|^\W*(?:(?:hi|hey|hello)\b[^\n,!]{0,30}[,!]?\s+)?(?:yes|sure|of course"
    r"|absolutely)\b"
)
# The sender's own job loss, in the first person ("I was laid off", "my contract ends"); someone
# else's is a layoff-note instead.
_JOB_LOSS = re.compile(
    r"(?i)\b(i was|i've been|i have been|i got|i'm|i am|we were)\s+(just\s+|recently\s+)?"
    r"(laid off|let go|made redundant|impacted by (the )?layoffs|between jobs|out of work"
    r"|unemployed)\b|(^|[.!?]\s+)got laid off\b|\blost my (job|position|role)\b"
    r"|\bmy (contract|role|position|job) (at \w+ )?(ends|ended|is ending)\b"
    r"|\bmy (company|employer|startup) (closed|shut down|folded)\b"
)
_STUDENT = re.compile(
    r"(?i)\b(i'?m a (student|junior|senior|sophomore|freshman) (at|in)\b|final[- ]year"
    r"|graduating\b|graduate student|(just|recently) graduated|graduated (in|this) (may|june"
    r"|july|spring|summer|year)|20\d\d grad\b|class of 20\d\d|my (studies|thesis|internship)"
    r"|(i am|i'm) an? (university|college|phd|master'?s|masters) student"
    r"|(first|second|third|2nd|3rd)[- ]year (phd|student|undergrad))"
)
# Someone who has just moved country: a hard time, met as kindly as a job loss.
_NEWCOMER = re.compile(
    r"(?i)\bi (just|recently|have just) (arrived|moved|immigrated|relocated)"
    r" (in|to) (?-i:[A-Z])|\bnew (to|in) (the|this) country\b"
    r"|\blanded (in )?(?-i:[A-Z])|\b(just )?moved here from\b|\bnew in town\b"
)
# Kind words about the user's news: what the letter thanks them for first.
_KIND_WORDS = re.compile(r"(?i)\b(congrats|congratulations|happy birthday|so proud of you)\b")
# Someone the user knows who sent them ("My friend Lucia gave me your email", "a friend of your
# brother Mike", "Aiden suggested I reach out"): the letter may name them.
_MUTUAL = re.compile(
    r"\b(?!(?:You|He|She|They|We|It|And|But|So)\b)([A-Z][^\W\d_]+)(?: [A-Z][^\W\d_]+)?"
    r" (?:gave me your (?:email|name"
    r"|number|address|contact)|suggested I (?:reach out|write|get in touch|contact you)"
    r"|mentioned you\b|told me about you\b)"
    r"|\bfriend of (?:a friend of )?your (?:brother|sister|cousin|colleague|friend|neighbou?r)"
    r" ([A-Z][a-z]+)"
)
# A parent or relative writing for a graduate: the letter is to them, not to a student.
_ON_BEHALF = re.compile(r"(?i)\bmy (son|daughter|nephew|niece|kid|child)\b")
# Other people's hard times used as a way in: money trouble, layoffs, someone's leave or health.
# The letter says a kind word about it (money-note.txt, layoff-note.txt, personal-note.txt).
_MONEY_TROUBLE = re.compile(
    r"(?i)\bstruggling with (money|debt|bills)|\bwho (are|is|'re) (in debt"
    r"|short of money|struggling financially)|\bmoney (worries|problems)"
)
_LAYOFFS = re.compile(r"(?i)\blayoffs?\b|\b(were|was|been|got|being) (laid off|let go)\b")
_PERSONAL = re.compile(
    r"(?i)\b(on|taking) (maternity|paternity|parental|sick|medical) leave\b"
    r"|\b(your|her|his|their) (illness|diagnosis|divorce|pregnancy)\b"
)
# Signs that quoting would read as mocking: text-speak, and turns of phrase typical of
# writing in a second language. Two make a message one to paraphrase, not quote.
_TEXT_SPEAK = re.compile(r"\b(u|ur|pls|plz|thx|ppl|bc|tmrw|rn|ya)\b|\?\?")
_SECOND_LANGUAGE = re.compile(
    r"(?i)\bgreeting from\b|\bwaiting (for )?your (kind |urgent )?(reply|response)\b"
    r"|\bfor (introduce|help|connect|support)\b|\bsatisfy with\b|\bbeside my work\b"
    r"|\bhope to hear good news\b|\bi find in your\b|\bwe are professional\b"
    r"|\bdear (mr|mrs|ms)\.? [a-z]+,|\bany position is ok\b|\bi will contact by myself\b"
    r"|\bonly need the\b|\bi join a\b|\bkindly (introduce|help|tell)\b|\brespected\b"
    r"|\b\w+ (madam|ji)\b|\bawaiting your (kind |positive )"
    r"|(^|[.!?]\s)i send you\b|(?<!can )(?<!could )(?<!shall )(?<!will )\bi send my\b"
    r"|\bdear (mr\./mrs|sir/madam)\b"
)
PLAIN_AT = 2  # signs of text-speak or a second language that make the letter paraphrase
# (one is enough from someone who has just moved country)


# The sender put the user on a list, newsletter or group without asking: three blind readers
# missed a plain "take me off" in the letter.
_ADDED_TO_LIST = re.compile(
    r"(?i)\b(added|subscribed|signed) you (up )?(to|for|on|into) (my|our|the)\b[^.!?\n]{0,40}"
    r"\b(list|newsletter|group|channel|community|updates|whatsapp|chat|mailing)"
    r"|\b(put|added) you on (my|our|the) (vip |mailing |email )?(list|newsletter)"
)


@dataclass(frozen=True)
class Reading:
    """What the letter is kind about, or careful with."""

    event: str = ""  # the named event where they met ("the DevRel Summit")
    answered: bool = False  # a reply that answers the user's question
    job_loss: bool = False  # they lost or are losing their job
    newcomer: bool = False  # they have just moved country
    kind_words: bool = False  # they congratulated the user or wished them well
    mutual: str = ""  # someone the user knows who sent them ("Lucia")
    says_why: bool = False  # it says why it came to the user: their article, talk, podcast...
    asks_after_you: bool = False  # it asks how the user is ("how's life in Toronto?")
    student: bool = False  # a student or a recent graduate
    plain: bool = False  # paraphrase their ask rather than quote it
    templated: bool = False  # an unfilled merge field: the message went to many people
    sensitive: str = ""  # the note on others' hard times it needs: "money-note", ...


def read_message(msg: Message) -> Reading:
    text = (msg.new_text or msg.body)[:_TEXT_LIMIT]
    signs = len(_TEXT_SPEAK.findall(text)) + len(_SECOND_LANGUAGE.findall(text))
    newcomer = bool(_NEWCOMER.search(text))
    return Reading(
        event=event_name(text),
        answered=bool(msg.in_reply_to or re.match(r"(?i)\s*re\s*:", msg.subject))
        and bool(_ANSWER.search(text[:200])),
        job_loss=bool(_JOB_LOSS.search(text)),
        newcomer=newcomer,
        kind_words=bool(_KIND_WORDS.search(text)),
        mutual=_mutual(text),
        says_why=bool(_CITES_YOUR_WORK.search(text)),
        asks_after_you=bool(_ASKS_AFTER_YOU.search(text)),
        student=bool(_STUDENT.search(text)) and not _ON_BEHALF.search(text),
        plain=signs >= PLAIN_AT or (signs > 0 and newcomer),
        templated=bool(MERGE_FIELD.search(text)),
        sensitive=_sensitive_note(text),
    )


# The sender says what brought them to the user: their work, read, heard or followed. A letter
# then never asks "why me" (blind readers marked it as not having listened).
_CITES_YOUR_WORK = re.compile(
    r"(?i)\byour (recent |latest |last )?(article|post|blog|talk|keynote|podcast|episode|book"
    r"|paper|research|newsletter|show|thread|video|piece|column|interview|course|work on)\b"
    r"|\b(i'?ve|i have) (been )?(following|reading|listening to|a fan of) (you|your)\b"
)


_ASKS_AFTER_YOU = re.compile(
    r"(?i)\bhow (are|is|have|was) (you|things|life|the family|work|your)\b"
    r"|\bhow'?s (life|it going|things|everything|the|your|work)\b|\bhope you'?re (well|doing)\b"
)


def _mutual(text: str) -> str:
    match = _MUTUAL.search(text)
    return (match.group(1) or match.group(2)) if match else ""


def _sensitive_note(text: str) -> str:
    """The one note the letter needs, "" when none: other people's hard times used as a way
    in, else a list the sender put the user on unasked. Their own job loss is met in the
    opening instead (opening-job-loss.txt)."""
    if _MONEY_TROUBLE.search(text):
        return "money-note"
    if _LAYOFFS.search(text) and not _JOB_LOSS.search(text):
        return "layoff-note"
    if _PERSONAL.search(text):
        return "personal-note"
    return "list-note" if _ADDED_TO_LIST.search(text) else ""


def event_name(text: str) -> str:
    """The event the message names ("the Women in Data breakfast"), "" when it names none."""
    match = _EVENT.search(text)
    if not match:
        return ""
    return f"the {' '.join((match.group(1) or match.group(2)).split())}"


# ----------------------------------------------------------------- saying the ask plainly

# An amount of money ("$150", "300 USD"); not a percentage, which is often a commission rate.
_MONEY = re.compile(
    r"[$€£₦¥₹]\s?[\d,.]*\d(?:\s?(?:k|m|million)\b)?"
    r"|\d[\d,.]*\s?(?:usd|eur|gbp)\b",
    re.I,
)
# An organisation or a place named after a preposition: "at Quillfield Games", "in Lumora Home".
_NAMED = re.compile(r"\b(?:at|in|with|from|to|for)\s+((?:[A-Z][\w&'’-]+\s?){1,3})")
_NOT_NAMES = frozenset(
    {
        "I",
        "I'm",
        "I'd",
        "Can",
        "Could",
        "Please",
        "Only",
        "My",
        "Your",
        "The",
        "We",
        "You",
        "If",
        "Thanks",
        "Thank",
        "Hi",
        "Dear",
    }
)
_WHO_FOR = {
    "introduction-ask": "asked me to introduce you to someone{at}",
    "network-harvesting": "asked me to pass your offer on to people I know",
    "referral-bounty": "offered {money} for each person I send your way",
    "mlm-recruiting": "invited me to join your business{with}{money_to_start}",
    "what-can-you-do-for-me": "asked what job I could offer you{visa}",
    "pitch-on-introduction": "proposed doing business{with} straight away{money_price}",
}


def plain_request(offense: str, ask: str) -> str:
    """What they asked, in plain words built from their ask ("asked me to introduce you to
    someone at Lumora Home"), for a letter that does not quote them."""
    money = _MONEY.search(ask)
    named = [
        m.group(1).strip()
        for m in _NAMED.finditer(ask)
        if m.group(1).split()[0] not in _NOT_NAMES and any(ch.islower() for ch in m.group(1))
    ]  # "Lumora Home", not "HR"
    details = {
        "at": f" at {named[0]}" if named else "",
        "with": f" with {named[0]}" if named else "",
        "money": money.group(0) if money else "a reward",
        "money_to_start": f", for {money.group(0)} to start" if money else "",
        "money_price": f", at {money.group(0)}" if money else "",
        "visa": ", with visa sponsorship" if re.search(r"(?i)\bvisa\b", ask) else "",
    }
    return _WHO_FOR[offense].format_map(details)
