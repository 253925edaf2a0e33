"""Split a plain-text body into what the sender wrote now, the quoted history, and the signature.

The classifier must judge the new words: a polite reply that quotes a pitch is not a pitch, and
a pitch that quotes a friendly introduction is still a pitch. Clients mark history in a handful
of ways (Gmail's "On ... wrote:", Outlook's "From:/Sent:" block or "Original Message" rule,
localised attributions, "> " prefixes), which are recognised here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import compress, repeat
from operator import itemgetter, or_

_ATTRIBUTION = re.compile(
    r"(?i)^\s*("
    r"on\b.{4,250}\b(wrote|writes)\s*:?"
    r"|-{2,}\s*(original message|forwarded message|mensaje original|message d'origine"
    r"|ursprüngliche nachricht)\s*-{2,}"
    r"|(le|el|am|il|op|em|den)\s.{4,250}\s(a écrit|escribió|ha scritto|escreveu|skrev)\s*:"
    r"|(am|op)\s.{4,250}\s(schrieb|schreef)\b.{0,250}:"
    r"|begin forwarded message:"
    r")\s*$"
)
# Outlook's header block: "From: ..." followed within two lines by "Sent:" or "Date:".
_OUTLOOK_FROM = re.compile(r"(?i)^\s*\**(from|von|de|da)\**\s*:\s*\S")
_OUTLOOK_NEXT = re.compile(r"(?i)^\s*\**(sent|date|gesendet|enviado|envoyé|to)\**\s*:")
_RULE = re.compile(r"^\s*_{8,}\s*$")
_SIG_DELIMITER = re.compile(r"^--\s?$")
_MOBILE_SIG = re.compile(
    r"(?i)^\s*(sent from my \w+|sent from (mail|outlook|yahoo mail|proton mail)\b"
    r"|get outlook for (ios|android)|sent via \w+|sent from my (iphone|ipad|android|galaxy))"
)
_VALEDICTION = re.compile(
    r"(?i)^\s*(best|best wishes|best regards|kind regards|warm regards|warmly|regards|cheers"
    r"|thanks|thanks again|thank you|many thanks|thx|sincerely|yours|yours truly|all the best"
    r"|talk soon|speak soon|take care|love|hugs|xo+|cordially|respectfully|with gratitude"
    r"|un abrazo|saludos|grüße|gruß|merci|ciao|best,? and thanks)[\s,.!]*$"
)
MAX_SIGNATURE_LINES = 10
_SIGNATURE_FIRSTS = frozenset("-sSgG")


_MARKER_ENDINGS = (":", "wrote", "writes", "-", "_")
_MARKER_STARTS = ("on ", "from", "*from", "von", "de:", "de ", "da:", "da ", "---", "___", "begin")


def _could_start_history(lines: list[str]) -> Iterator[int]:
    """The lines that could start the history: a cheap test that rules out almost every line
    before any regex runs, in C-level maps (a Python call per line cost a tenth of parsing)."""
    stripped = list(map(str.lower, map(str.strip, lines)))
    ends = map(str.endswith, stripped, repeat(_MARKER_ENDINGS))
    starts = map(str.startswith, stripped, repeat(_MARKER_STARTS))
    return compress(range(len(lines)), map(or_, ends, starts))


def _history_start(lines: list[str]) -> tuple[int, int] | None:
    """Where the quoted history starts, and how many lines its attribution takes."""
    for i in _could_start_history(lines):
        line = lines[i]
        if (
            _ATTRIBUTION.match(line)
            or _RULE.match(line)
            and i + 1 < len(lines)
            and _OUTLOOK_FROM.match(lines[i + 1])
        ):
            return i, 1
        # Gmail wraps long attributions: "On Tue, 4 Mar 2025 at 09:12, Jane Doe <" / "jd@x> wrote:"
        if (
            i + 1 < len(lines)
            and line.lstrip().lower().startswith("on ")
            and _ATTRIBUTION.match(f"{line} {lines[i + 1]}")
        ):
            return i, 2
        if _OUTLOOK_FROM.match(line) and any(
            _OUTLOOK_NEXT.match(following) for following in lines[i + 1 : i + 3]
        ):
            return i, 1
    return None


def _signature_start(lines: list[str]) -> int | None:
    # Only lines starting with "-", "s" or "g" (in any case, after blanks) can match below;
    # they are picked out in C-level loops, and only they reach Python code.
    firsts = map(
        _SIGNATURE_FIRSTS.__contains__, map(itemgetter(slice(0, 1)), map(str.lstrip, lines))
    )
    for i in compress(range(len(lines)), firsts):
        line = lines[i]
        if line.startswith("--") and _SIG_DELIMITER.match(line):
            return i
        if line.lstrip()[:4].lower() in ("sent", "get ") and _MOBILE_SIG.match(line):
            return i
    # A valediction near the end: what follows it is the name/title/phone block.
    tail_start = max(0, len(lines) - MAX_SIGNATURE_LINES - 1)
    for i in range(len(lines) - 1, tail_start - 1, -1):
        if _VALEDICTION.match(lines[i]):
            return i + 1 if i + 1 < len(lines) else None
    return None


def split_reply(text: str) -> tuple[str, str, str]:
    """Return (new_text, quoted_text, signature) of a plain-text body."""
    lines = text.split("\n")
    found = _history_start(lines)
    own, history, attribution = lines, [], 0
    if found is not None:
        start, attribution = found
        own, history = lines[:start], lines[start:]
    if any(line.lstrip().startswith(">") for line in history[attribution:]):
        # Inline or bottom-posted reply: the attribution introduces "> " quotes, and the
        # unquoted lines between and after them are the sender's own words.
        own, history = own + history[attribution:], history[:attribution]
    new_lines: list[str] = []
    quoted_lines: list[str] = []
    if ">" in text:  # else no line is quoted
        for line in own:
            (quoted_lines if line.lstrip().startswith(">") else new_lines).append(line)
    else:
        new_lines = list(own)
    while new_lines and not new_lines[-1].strip():
        new_lines.pop()
    sig_at = _signature_start(new_lines)
    signature = ""
    if sig_at is not None:
        signature = "\n".join(new_lines[sig_at:]).strip()
        new_lines = new_lines[:sig_at]
    quoted = "\n".join(quoted_lines + history).strip()
    return "\n".join(new_lines).strip(), quoted, signature
