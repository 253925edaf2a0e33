"""Whose name a feedback draft greets: the first name in a display name or a sign-off, and
never a word that is not a name ("Unknown", "Info", "Team", an address's local part)."""

from __future__ import annotations

import re

from triage.letters.draft_templates import clean_text
from triage.message.parse import Message

_TITLES = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "professor",
        "sir",
        "madam",
        "dame",
        "herr",
        "frau",
        "mme",
        "mlle",
        "sr",
        "sra",
    }
)
_SUFFIXES = frozenset(
    {
        "phd",
        "md",
        "mba",
        "cpa",
        "jr",
        "sr",
        "esq",
        "ii",
        "iii",
        "iv",
        "msc",
        "bsc",
        "ma",
        "ba",
        "pmp",
        "cfa",
    }
)
# Display names that are a role or a company rather than a person.
_ROLE_WORDS = frozenset(
    {
        "team",
        "sales",
        "support",
        "info",
        "marketing",
        "hr",
        "recruiting",
        "recruitment",
        "admin",
        "office",
        "contact",
        "hello",
        "noreply",
        "no-reply",
        "customer",
        "service",
        "careers",
        "jobs",
        "newsletter",
        "notifications",
        "billing",
        "help",
        "partnerships",
        "growth",
        "community",
        "the",
        "your",
        "our",
        "dear",
        "unknown",
        "sender",
        "desk",
        "mailer",
        "user",
        "career",
    }
)
# Words that make a display name an organisation wherever they stand ("Rentwise Team").
_ORGANISATION_WORDS = frozenset(
    {
        "team",
        "sales",
        "support",
        "desk",
        "group",
        "inc",
        "ltd",
        "llc",
        "gmbh",
        "hq",
        "office",
        "careers",
        "jobs",
        "recruiting",
        "marketing",
        "billing",
        "info",
        "notifications",
    }
)
_SIGN_OFF = re.compile(
    r"(?i)^\s*(?:best(?:\s+regards|\s+wishes)?|regards|kind\s+regards|warm\s+regards|thanks"
    r"|thank\s+you|thx|cheers|sincerely|yours(?:\s+truly)?|all\s+the\s+best|warmly|talk\s+soon"
    r"|many\s+thanks|br|rgds|love(?:\s+and\s+light)?|xo+|x+|hugs|--+|—|–|-)\s*[,.!-]*\s*"
    r"(?P<name>.*)$"
)


def first_name(display_name: str, addr: str = "") -> str:
    """The first name in a display name, or "" when there is no trustworthy one.

    "Jane Doe" -> "Jane", "Doe, Jane" -> "Jane", "Dr. JANE DOE (Acme)" -> "Jane",
    "Jane via LinkedIn" -> "Jane"; "jdoe123", "john.smith", "Sales Team", "🚀" -> "".
    A display name that only repeats the address's local part is not a name.
    """
    name = clean_text(display_name, 200)
    name = re.split(r"(?i)\s+via\s+", name)[0]
    name = re.sub(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>", " ", name)
    name = name.replace('"', " ").replace("“", " ").replace("”", " ")
    if "@" in name:
        return ""
    if "," in name:
        before, _, after = name.partition(",")
        after_words = [w.strip(".").lower() for w in after.split()]
        suffix_only = all(w in _SUFFIXES for w in after_words)
        name = before if suffix_only else after  # "Jane Doe, PhD" / "Doe, Jane"
    tokens = []
    for raw in name.split():
        token = raw.strip(".,;:!?'`’*_~|/\\-")
        if any(ch.isalpha() for ch in token):
            tokens.append(token)
    while tokens and tokens[0].lower().rstrip(".") in _TITLES:
        tokens.pop(0)
    if not tokens:
        return ""
    first = tokens[0]
    if first.lower() in _ROLE_WORDS or any(t.lower() in _ORGANISATION_WORDS for t in tokens):
        return ""  # "Sales Team", "Rentwise Team": an organisation, not a person
    if not all(ch.isalpha() or ch in "-'’" for ch in first) or len(first) > 30:
        return ""
    if sum(ch.isalpha() for ch in first) < 2:
        return ""
    local = addr.partition("@")[0].lower()
    plain = display_name.strip().strip('"')
    if local and plain == plain.lower() and plain.lower() == local:
        return ""  # "jdoe <jdoe@example.com>": the local part again, not a name
    if first.isupper() or first.islower():
        first = "-".join(part.capitalize() for part in first.split("-"))
    return first


def signed_name(msg: Message) -> str:
    """The name after the last sign-off ("Best,\nMarta", "Cheers, Dev", "xx Tamsin") when it
    reads as a name (one to three capitalised words); "" when there is none."""
    lines = _closing_lines(msg)
    for i in range(len(lines) - 1, -1, -1):
        match = _SIGN_OFF.match(lines[i])
        if not match:
            continue
        candidate = match.group("name").strip() or (lines[i + 1] if i + 1 < len(lines) else "")
        name = _a_name(candidate)
        if name:
            return name
    return ""


def closing_name(msg: Message) -> str:
    """A name alone on the last line, with no sign-off before it ("...next week?\nBrooke"):
    weaker evidence than a sign-off, used only when the display name is not a name."""
    lines = _closing_lines(msg)
    return _a_name(lines[-1]) if lines else ""


def _closing_lines(msg: Message) -> list[str]:
    """The last lines of the message, never its first (a "Thanks Jenna!" opening a reply is
    not a sign-off)."""
    signed = f"{msg.new_text}\n{msg.signature}" if msg.new_text else msg.body
    lines = [line.strip() for line in signed.strip().splitlines() if line.strip()][1:]
    return lines[-6:] if msg.signature else lines[-3:]


def _a_name(candidate: str) -> str:
    """The first name in a line of one to three capitalised words (emoji and marks aside)."""
    words = [w for w in re.split(r"[\s,]+", candidate) if any(ch.isalpha() for ch in w)]
    if not 1 <= len(words) <= 3 or not all(w[:1].isupper() for w in words):
        return ""
    if _SIGN_OFF.match(words[0]) and not words[0].startswith("-"):
        return ""  # "Thanks", "Cheers": a sign-off, not a name
    return first_name(" ".join(words))
