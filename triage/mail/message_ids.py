"""Message-IDs: the one reader of the ids that keep labels and drafts exactly once.

The daemon keys its ledger by Message-ID before a message is parsed, corrections and the
mailboxes look messages up by it, and the parser reports it: all of them read it here, so they
agree on folded fields, comments (`(sent by x <a@b>) <real@id>`), a missing id and ids with
bytes beyond ASCII (read as UTF-8, an undecodable byte as U+FFFD).
"""

from __future__ import annotations

import hashlib
import re

_ID = re.compile(rb"<[^<>\s]{1,250}>")
_COMMENT = re.compile(rb"\((?:[^()\\]|\\.)*\)")
# The first Message-ID field with its continuation lines (ids_in reads across the folds).
_MESSAGE_ID_FIELD = re.compile(rb"(?im)^message-id:(.*(?:\r?\n[ \t].*)*)")


def ids_in(value: bytes | str) -> list[str]:
    """The Message-IDs in a field's value (Message-ID, In-Reply-To, References), comments left
    out. A str is read as the bytes it came from (surrogate escapes are those bytes)."""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return [found.decode("utf-8", "replace") for found in _ID.findall(_COMMENT.sub(b" ", raw))]


def first_id(value: bytes | str) -> str:
    ids = ids_in(value)
    return ids[0] if ids else ""


# The header block as the parser (email.feedparser) sees it: field lines ("name:" with no blank
# in the name) and their continuations, after an optional mbox From_ line; it ends at the first
# other line, blank or not.
_HEADER_BLOCK = re.compile(rb"(?:From [^\n]*\n)?(?:(?:[\041-\071\073-\176]+:|[ \t])[^\n]*\n?)*")


def message_id_in(raw: bytes) -> str:
    """The Message-ID of a message or header block, from the header block alone, as
    `parse_message` reads it (a "Message-ID :" line ends the header block there too)."""
    block = _HEADER_BLOCK.match(raw)  # it matches the empty string too: never None
    field = _MESSAGE_ID_FIELD.search(raw, 0, block.end()) if block else None
    return first_id(field.group(1)) if field else ""


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def header_bytes(raw: bytes) -> bytes:
    """The header block of a message, through the blank line that ends it."""
    match = _HEADER_END.search(raw)
    return raw[: match.end()] if match else raw


def message_key(raw: bytes, message_id: str) -> str:
    """What identifies a message across UIDVALIDITY changes and folders: its Message-ID, or
    a digest of its header block when it has none (a re-uploaded copy has the same header)."""
    if message_id:
        return message_id
    return "sha256:" + hashlib.sha256(header_bytes(raw)).hexdigest()[:40]
