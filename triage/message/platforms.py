"""Platform notifications (LinkedIn): which platform sent a message, and the personal note
inside its notification, which is what the sender actually wrote."""

from __future__ import annotations

import re
from collections.abc import Mapping

from triage.message.headers import Address

_NO_NOTE_LINES = re.compile(
    r"(?i)^((hi \S+,? )?i'?d like to (add you to|join) (my|your) (professional )?(linkedin )?"
    r"network( on linkedin)?\.?|i want to connect\.?)$"
)
_BARE_GREETING = re.compile(r"(?i)^(hi|hello|hey|dear) [^\s,]+,?$")
_INVITE_HEADER = re.compile(r"(?im)^\s*(\S+)(?: \S+)? (?:wants to connect|has invited you)")


def platform_of(sender: Address | None, headers: Mapping[str, str]) -> str:
    domain = sender.addr.rpartition("@")[2] if sender else ""
    if domain == "linkedin.com" or domain.endswith(".linkedin.com"):
        return "linkedin"
    if any(name.startswith("x-linkedin") for name in headers):
        return "linkedin"
    return ""


# The notification's own words. Button labels count only as short lines of their own, so a
# note that says "happy to accept" or "saw your LinkedIn post" survives.
_LINKEDIN_CHROME = re.compile(
    r"(?i)(https?://|www\.|^(accept|ignore|reply|view (profile|message|invitation)|unsubscribe"
    r"|help|privacy( policy)?|user agreement|linkedin)\b.{0,40}$"
    r"|connections? in common|mutual connection|invited you to connect|wants to connect"
    r"|you have (an|a new) invitation|invitation to connect|sent you a (new )?message"
    r"|this email was (intended|sent) for|learn why we included|you are receiving|©|copyright"
    r"|all rights reserved|linkedin corporation|registered trademarks?|^\s*\d+\s*$"
    r"|^[-_=*.·•~]{3,}$)"  # separator lines of dashes, dots, bullets...
)
_QUOTED_NOTE = re.compile(r"[\"“]([^\"”]{12,600})[\"”]", re.S)


def _invitee_first_name(text: str, sender_name: str) -> str:
    """The inviting person's first name: from the display name ("Jane Doe via LinkedIn"), or
    from the notification's own first line when the display name is just "LinkedIn"."""
    name = sender_name.split(" via ")[0].strip()
    if name and name.lower() != "linkedin":
        return name.split()[0].lower()
    header = _INVITE_HEADER.search(text)
    return header.group(1).lower() if header else ""


def _is_card(lines: list[str], first_name: str) -> bool:
    """The person's card: their name, then headline, location; short lines, no sentences.
    Without a known name, a block of two or more such lines is taken for the card."""
    card_like = all(
        len(line.split()) <= 14 and not line.endswith((".", "!", "?")) for line in lines
    )
    if first_name:
        return card_like and lines[0].lower().startswith(first_name)
    return card_like and len(lines) >= 2


def linkedin_note(text: str, sender_name: str) -> str:
    """The personal note inside a LinkedIn notification, or "" when there is none.

    LinkedIn's layouts change, so this works from what is stable: the note is either quoted, or
    it is what is left after removing the notification's fixed phrases and links, the person's
    card (name, headline, location) and LinkedIn's default invitation text.
    """
    text = text.replace("\u2019", "'")
    quoted = _QUOTED_NOTE.search(text)
    if quoted:
        note = quoted.group(1).strip()
        return "" if _NO_NOTE_LINES.match(note) else note
    first_name = _invitee_first_name(text, sender_name)
    kept: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [
            line.strip()
            for line in paragraph.splitlines()
            if line.strip() and not _LINKEDIN_CHROME.search(line.strip())
        ]
        if not lines or _is_card(lines, first_name):
            continue
        kept += [
            line
            for line in lines
            if not _NO_NOTE_LINES.match(line) and not _BARE_GREETING.match(line)
        ]
    return "\n".join(kept)
