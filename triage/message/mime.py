"""MIME: the compat32 message tree of raw bytes, and which of its parts are the text.

The stdlib's feedparser reads every line of every body through a Python generator, which costs
more than everything else in parsing together. Most mail is plain: a header block, then one
body or a clean multipart tree. For those, `_structure` builds the very same compat32 objects
(same raw headers, payload strings, parts and top-level defects) with a handful of C-level
searches; anything it does not reproduce exactly (bare CR line ends, message/* parts, digests,
repeated boundary lines, odd header blocks, deep nesting) goes to the stdlib parser instead.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import compat32
from itertools import compress, repeat
from operator import itemgetter

from triage.errors import MessageParseError
from triage.message.headers import decode_header_value


def _charset_codec(charset: str | None) -> str:
    if not charset:
        return "utf-8"
    try:
        return codecs.lookup(charset.strip().strip('"')).name
    except (LookupError, ValueError):
        return "utf-8"


def _decode_part(part: EmailMessage, facts: PartFacts, defects: list[str]) -> str:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        defects.append("undecodable-transfer-encoding")
        return ""
    if not isinstance(payload, bytes):
        return ""
    codec = facts.codec()
    if codec is None:  # a Content-Type parameter the stdlib cannot read
        defects.append("unreadable-content-type")
        codec = "utf-8"
    try:
        return payload.decode(codec)
    except (UnicodeError, LookupError):  # UnicodeError: codecs such as "undefined", "punycode"
        defects.append(f"bad-charset:{codec}")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", "replace")


def _filename(part: EmailMessage) -> str:
    try:
        name = part.get_filename()
    except (ValueError, TypeError, LookupError, AssertionError):
        return "(unreadable name)"
    return decode_header_value(name) if name else ""


MAX_REMEMBERED_PARTS = 4_096
# What is read of a part's MIME headers: the first value of each, by lower-cased name.
_MIME_FIELDS = ("content-type", "content-disposition", "content-transfer-encoding")
_MIME_NAME_LENGTHS = frozenset(len(name) for name in _MIME_FIELDS)
_MULTIPART_CTE = ("7bit", "8bit", "binary")  # what RFC 2045 allows a multipart
MimeFields = tuple[str | None, str | None, str | None]


def _mime_fields(
    headers: Sequence[tuple[str, str]], names: Sequence[str] | None = None
) -> MimeFields:
    """The first Content-Type, Content-Disposition and Content-Transfer-Encoding values.
    `names` are the header names, when the caller has them in a list already."""
    if names is None:
        names = list(map(itemgetter(0), headers))
    found: dict[str, str] = {}
    # the cheap test first, in C: most names differ in length from all three
    for index in compress(range(len(names)), map(_MIME_NAME_LENGTHS.__contains__, map(len, names))):
        key = names[index].lower()
        if key in _MIME_FIELDS and key not in found:
            found[key] = headers[index][1]
    return (
        found.get("content-type"),
        found.get("content-disposition"),
        found.get("content-transfer-encoding"),
    )


class PartFacts:
    """What parsing reads from a part's MIME headers.

    These depend on nothing else, so they are worked out by the stdlib's own methods on a
    stand-in message holding just those headers (a real part may have fifty, and every stdlib
    lookup scans them all), and remembered: most mail repeats a few dozen such combinations.
    """

    __slots__ = ("_proxy", "_codec", "_boundary", "ctype", "name", "disposition", "multipart_cte")
    _known: dict[tuple[MimeFields, str], PartFacts] = {}

    def __init__(self, fields: MimeFields, default_type: str) -> None:
        proxy = EmailMessage(policy=compat32)
        for name, value in zip(_MIME_FIELDS, fields, strict=True):
            if value is not None:
                proxy.set_raw(name, value)
        proxy.set_default_type(default_type)
        self._proxy = proxy
        self._codec: str | None | bool = False  # not yet known
        self._boundary: str | None | bool = False
        self.ctype = proxy.get_content_type()
        self.name = _filename(proxy)
        # str(): compat32 returns a Header object when the value has 8-bit bytes
        self.disposition = str(proxy.get("content-disposition") or "").split(";")[0].strip().lower()
        self.multipart_cte = (
            str(proxy.get("content-transfer-encoding", "8bit")).lower() in _MULTIPART_CTE
        )

    @classmethod
    def get(cls, fields: MimeFields, default_type: str) -> PartFacts:
        key = (fields, default_type)
        facts = cls._known.get(key)
        if facts is None:
            if len(cls._known) >= MAX_REMEMBERED_PARTS:
                cls._known.clear()
            facts = cls._known[key] = cls(fields, default_type)
        return facts

    @classmethod
    def of(cls, part: EmailMessage) -> PartFacts:
        return cls.get(_mime_fields(list(part.raw_items())), part.get_default_type())

    def codec(self) -> str | None:
        """The codec of the charset parameter (UTF-8 when none is usable); None when the
        parameters cannot be read at all."""
        if self._codec is False:
            try:
                self._codec = _charset_codec(self._proxy.get_content_charset())
            except (ValueError, TypeError, LookupError, AssertionError):
                self._codec = None
        return self._codec  # type: ignore[return-value]

    def boundary(self) -> str | None:
        """get_boundary(); raises what it raises (the caller then leaves it to the stdlib)."""
        if self._boundary is False:
            self._boundary = self._proxy.get_boundary()
        return self._boundary  # type: ignore[return-value]


def texts(
    msg: EmailMessage, defects: list[str], known: Mapping[int, PartFacts]
) -> tuple[str, str, bool, list[str]]:
    """First text/plain, first text/html, whether a calendar is attached, attachment names.
    `known` has the facts of parts already looked at, by id()."""
    plain = html = ""
    has_calendar = False
    attachments: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        facts = known.get(id(part)) or PartFacts.of(part)
        ctype, name = facts.ctype, facts.name
        if ctype.startswith("multipart/"):
            ctype = "text/plain"  # boundary missing or never found: the parser kept it as text
        if ctype == "text/calendar" or name.lower().endswith(".ics"):
            has_calendar = True
        if facts.disposition == "attachment" or (name and not ctype.startswith("text/")):
            attachments.append(name or ctype)
            continue
        if ctype == "text/plain" and not plain:
            plain = _decode_part(part, facts, defects)
        elif ctype == "text/html" and not html:
            html = _decode_part(part, facts, defects)
    return plain, html, has_calendar, attachments


# A run of header fields, each one line plus its continuation lines (feedparser's headerRE).
_FIELDS = re.compile(r"(?:[\041-\071\073-\176]+:[^\n]*\n(?:[ \t][^\n]*\n)*)*")
_FIELD = re.compile(r"([\041-\071\073-\176]+):[ \t]*([^\n]*\n(?:[ \t][^\n]*\n)*)")
_HEADERISH = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")
_BARE_CR = re.compile(r"\r(?!\n)")
MAX_FAST_DEPTH = 8
# More multipart headers than real mail ever has (a few); past it the structure is not parsed.
MAX_MULTIPARTS = 32
_MULTIPART_HEADER = re.compile(r"(?im)^content-type:\s*multipart/")


class _Unusual(Exception):
    """Structure the fast path does not reproduce exactly: the stdlib parser takes over."""


def _header_block(text: str) -> tuple[EmailMessage, MimeFields, int, bool]:
    """The headers at the start of `text`, as feedparser reads them: the message, its MIME
    fields, where its body starts, and whether the header/body separator line was missing."""
    msg = EmailMessage(policy=compat32)
    position = 0
    if text.startswith("From "):  # the mbox envelope line
        end = text.find("\n")
        if end < 0:
            raise _Unusual
        line = text[:end]
        msg.set_unixfrom(line[:-1] if line.endswith("\r") else line)
        position = end + 1
    block = _FIELDS.match(text, position)
    end = block.end() if block else position  # the pattern matches the empty string too
    found = _FIELD.findall(text, position, end)
    names = list(map(itemgetter(0), found))
    fields = list(
        zip(names, map(str.rstrip, map(itemgetter(1), found), repeat("\r\n")), strict=True)
    )
    for name, value in fields:
        msg.set_raw(name, value)
    mime = _mime_fields(fields, names)
    if end == len(text):
        return msg, mime, end, False
    if text.startswith("\n", end):
        return msg, mime, end + 1, False
    if text.startswith("\r\n", end):
        return msg, mime, end + 2, False
    if _HEADERISH.match(text, end):  # a misplaced envelope line, a nameless field, ...
        raise _Unusual
    return msg, mime, end, True  # the body starts without a blank line


def _boundary_lines(text: str, start: int, separator: str) -> list[tuple[int, int, bool]]:
    """(line start, line end, is the close boundary) of every boundary line after `start`."""
    found = []
    size = len(text)
    position = text.find(separator, start)
    while position >= 0:
        if position == start or text[position - 1] == "\n":
            i = position + len(separator)
            close = text.startswith("--", i)
            j = i + 2 if close else i
            while j < size and text[j] in " \t":
                j += 1
            if j == size:
                found.append((position, j, close))
            elif text[j] == "\n":
                found.append((position, j + 1, close))
            elif text.startswith("\r\n", j):
                found.append((position, j + 2, close))
            if close and found and found[-1][0] == position:
                break  # what follows the close boundary is the epilogue
        position = text.find(separator, position + 1)
    return found


def _structure(
    text: str, known: dict[int, PartFacts], depth: int = 0
) -> tuple[EmailMessage, list[str]]:
    """Parse `text` (a message or, below the top, a body part) into compat32 objects, and the
    names of the defects feedparser would have recorded on it. The MIME facts of every part
    are put in `known`, by id()."""
    msg, fields, body_start, no_separator = _header_block(text)
    defects = ["MissingHeaderBodySeparatorDefect"] if no_separator else []
    # the default type is text/plain: only a digest's parts default to message/rfc822
    facts = known[id(msg)] = PartFacts.get(fields, msg.get_default_type())
    maintype, _slash, subtype = facts.ctype.partition("/")
    if maintype == "message":
        raise _Unusual
    if maintype != "multipart":
        body = text[body_start:]
        if depth:  # the line break before a boundary belongs to the boundary
            body = (
                body[:-2] if body.endswith("\r\n") else body[:-1] if body.endswith("\n") else body
            )
        msg.set_payload(body)
        return msg, defects
    if depth >= MAX_FAST_DEPTH or subtype == "digest" or not facts.multipart_cte:
        raise _Unusual
    boundary = facts.boundary()
    if not boundary:
        raise _Unusual
    lines = _boundary_lines(text, body_start, "--" + boundary)
    if not lines or lines[0][2]:
        raise _Unusual  # no start boundary
    for k, (_start, end, close) in enumerate(lines):
        if close:
            break
        following = lines[k + 1][0] if k + 1 < len(lines) else len(text)
        if following == end:
            raise _Unusual  # boundary lines in a row: feedparser skips them all
        msg.attach(_structure(text[end:following], known, depth + 1)[0])
    else:
        defects.append("CloseBoundaryNotFoundDefect")
    return msg, defects


def parse_mime(data: bytes) -> tuple[EmailMessage, list[str], dict[int, PartFacts]]:
    """compat32 objects for the message, the names of its top-level defects, and the MIME
    facts of the parts already worked out (by id())."""
    text = data.decode("ascii", "surrogateescape")
    if "\r" not in text or not _BARE_CR.search(text):
        known: dict[int, PartFacts] = {}
        try:
            msg, defects = _structure(text, known)
            return msg, defects, known
        except Exception:  # noqa: BLE001 - _Unusual, or a stdlib error the stdlib path reports
            pass
    if len(_MULTIPART_HEADER.findall(text)) > MAX_MULTIPARTS:
        # The stdlib parser recurses once per level (1,000 levels took 0.7-1.8 s, then hit the
        # recursion limit): read the body as text, which still gives a decision.
        msg, _fields, body_start, _no_separator = _header_block(text)
        msg.set_payload(text[body_start:])
        return msg, ["MultipartNestingTooDeep"], {}
    try:
        msg = message_from_bytes(data, policy=compat32)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser is documented not to raise
        raise MessageParseError(f"unparseable message: {type(exc).__name__}") from None
    return msg, [type(d).__name__ for d in msg.defects], {}
