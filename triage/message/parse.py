"""Raw bytes to an immutable `Message`: the only place that knows about MIME.

Mail is written by strangers, so parsing never trusts it: only the first `MAX_PARSE_BYTES` of a
message are parsed (a 50 MB attachment is never decoded), attachments are named but not decoded,
unknown or lying charsets fall back to UTF-8 and then Windows-1252, and control characters are
removed from every header value so nothing downstream can be tricked into header injection.
`parse_message` records what it had to tolerate in `defects` instead of raising.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from itertools import compress, islice, repeat
from operator import itemgetter, or_
from types import MappingProxyType

from triage.errors import MessageParseError
from triage.mail.message_ids import first_id, ids_in
from triage.message.htmltext import html_to_text
from triage.message.quoting import split_reply

MAX_PARSE_BYTES = 1_000_000
MAX_TEXT_CHARS = 60_000
MAX_HEADER_CHARS = 2_000
MAX_HEADERS = 100
MAX_ADDRESSES = 100

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# "Name <addr>" or a bare addr. The name may itself look like an address ("ceo@partner.example
# <spammer@evil.example>"): the addr-spec in angle brackets is the address, whatever it says.
_SIMPLE_ADDRESS = re.compile(
    r'(?:((?:"[^"\\<>,]*"|[^"<>,;:()\\]*?))\s*<([^<>@\s,;"()]+@[^<>@\s,;"()]+)>'
    r'|([^<>@\s,;"()]+@[^<>@\s,;"()]+))'
)
_SURROGATES = re.compile("[\udc80-\udcff]")
_NO_NOTE_LINES = re.compile(
    r"(?i)^((hi \S+,? )?i'?d like to (add you to|join) (my|your) (professional )?(linkedin )?"
    r"network( on linkedin)?\.?|i want to connect\.?)$"
)
_BARE_GREETING = re.compile(r"(?i)^(hi|hello|hey|dear) [^\s,]+,?$")
_INVITE_HEADER = re.compile(r"(?im)^\s*(\S+)(?: \S+)? (?:wants to connect|has invited you)")


@dataclass(frozen=True)
class Address:
    name: str
    addr: str

    def __str__(self) -> str:
        return f"{self.name} <{self.addr}>" if self.name else self.addr


@dataclass(frozen=True)
class Message:
    """A parsed message: what every later stage reads. See docs/architecture.md."""

    message_id: str
    subject: str
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    in_reply_to: str
    references: tuple[str, ...]
    headers: Mapping[str, str]
    body: str
    new_text: str
    quoted_text: str
    signature: str
    platform: str
    has_calendar: bool
    attachments: tuple[str, ...]
    links: tuple[str, ...]
    size: int
    defects: tuple[str, ...]

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def _clean(text: str) -> str:
    if not text.isprintable():  # printable text has no control character: nothing to replace
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())[:MAX_HEADER_CHARS]


def _unsurrogate(text: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogates; read them as UTF-8 or Windows-1252."""
    if text.isascii() or not _SURROGATES.search(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def decode_header_value(value: object) -> str:
    """A header as clean text: RFC 2047 decoded, unfolded, control characters removed."""
    if value is None:
        return ""
    # Decoding is quadratic in the number of encoded words: cut before, not after.
    text = _unsurrogate(str(value)[: MAX_HEADER_CHARS * 4])
    if "=?" in text:
        # On HeaderParseError (bad base64), CharsetError (bad name) and the like, keep the
        # encoded form: readable enough, and never a crash.
        with contextlib.suppress(LookupError, UnicodeError, ValueError, TypeError,
                                 AssertionError, MessageError):
            text = str(make_header(decode_header(text)))
    return _clean(text)


ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")


def _raw_headers(msg: EmailMessage) -> dict[str, list[str]]:
    """The headers triage reads, by lower-cased name, in one pass over the header list.

    Values stay as parsed, 8-bit bytes still surrogate-escaped: compat32's get_all() and items()
    would turn them into Header objects whose str() is U+FFFD replacement characters.
    """
    found: dict[str, list[str]] = {}
    items = list(islice(msg.raw_items(), MAX_HEADERS))
    # Names are lower-cased and tested in C-level loops; Python code runs for wanted ones only.
    keys = list(map(str.lower, map(str.strip, map(str, map(itemgetter(0), items)))))
    wanted = map(or_, map(_WANTED_HEADERS.__contains__, keys),
                 map(str.startswith, keys, repeat(READ_HEADER_PREFIXES)))
    for index in compress(range(len(keys)), wanted):
        value = str(items[index][1])
        if keys[index] in found:
            found[keys[index]].append(value)
        else:
            found[keys[index]] = [value]
    return found


def _addresses(raw_values: list[str]) -> tuple[Address, ...]:
    if not raw_values:
        return ()
    values = [_unsurrogate(v[:MAX_HEADER_CHARS * 4]) for v in raw_values]
    simple = _simple_addresses(values)
    return simple if simple is not None else _parsed_addresses(values)


def _simple_addresses(values: list[str]) -> tuple[Address, ...] | None:
    """The common forms, "Name <addr>", a bare addr and comma-separated lists of them, without
    the full RFC 5322 parser (a tenth of parsing time on multi-recipient headers); None when a
    value needs that parser."""
    pieces = [piece.strip() for value in values
              for piece in (value.split(",") if "," in value else (value,))]
    if len(pieces) > MAX_ADDRESSES or (len(pieces) > len(values) and any(
            '"' in value for value in values)):  # a quoted name may hold a comma
        return None
    found = []
    for piece in pieces:
        if not piece and len(pieces) > 1:
            continue  # "a@x, , b@x": the parser skips empty entries too
        simple = _SIMPLE_ADDRESS.fullmatch(piece)
        if not simple:
            return None
        display = simple.group(1) or ""
        found.append(Address(decode_header_value(display.strip().strip('"')),
                             _clean(simple.group(2) or simple.group(3)).lower()))
    return tuple(found)


# An unquoted name that looks like an address, right before "<addr>": getaddresses would take
# it for a second address (and the first, as the sender).
_ADDRESS_LIKE_NAME = re.compile(r'(^|,)(\s*)([^",<>]*@[^",<>]*?)(\s*<)')


def _parsed_addresses(values: list[str]) -> tuple[Address, ...]:
    values = [_ADDRESS_LIKE_NAME.sub(r'\1\2"\3"\4', value) for value in values]
    try:
        pairs = getaddresses(values)
    except (ValueError, TypeError, IndexError, RecursionError):  # "To: (((((..." recurses
        return ()
    result = []
    for display, addr in pairs[:MAX_ADDRESSES]:
        addr = _clean(addr).lower().strip("<>")
        if "@" not in addr and not display:
            continue
        result.append(Address(decode_header_value(display), addr if "@" in addr else ""))
    return tuple(result)


def _charset_codec(charset: str | None) -> str:
    if not charset:
        return "utf-8"
    try:
        return codecs.lookup(charset.strip().strip('"')).name
    except (LookupError, ValueError):
        return "utf-8"


def _decode_part(part: EmailMessage, facts: _PartFacts, defects: list[str]) -> str:
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


def _mime_fields(headers: Sequence[tuple[str, str]], names: Sequence[str] | None = None
                 ) -> MimeFields:
    """The first Content-Type, Content-Disposition and Content-Transfer-Encoding values.
    `names` are the header names, when the caller has them in a list already."""
    if names is None:
        names = list(map(itemgetter(0), headers))
    found: dict[str, str] = {}
    # the cheap test first, in C: most names differ in length from all three
    for index in compress(range(len(names)), map(_MIME_NAME_LENGTHS.__contains__,
                                                 map(len, names))):
        key = names[index].lower()
        if key in _MIME_FIELDS and key not in found:
            found[key] = headers[index][1]
    return found.get("content-type"), found.get("content-disposition"), found.get(
        "content-transfer-encoding")


class _PartFacts:
    """What parsing reads from a part's MIME headers.

    These depend on nothing else, so they are worked out by the stdlib's own methods on a
    stand-in message holding just those headers (a real part may have fifty, and every stdlib
    lookup scans them all), and remembered: most mail repeats a few dozen such combinations.
    """

    __slots__ = ("_proxy", "_codec", "_boundary", "ctype", "name", "disposition",
                 "multipart_cte")
    _known: dict[tuple[MimeFields, str], _PartFacts] = {}

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
        self.disposition = str(proxy.get("content-disposition") or "").split(";")[0].strip(
            ).lower()
        self.multipart_cte = str(proxy.get("content-transfer-encoding", "8bit")).lower(
            ) in _MULTIPART_CTE

    @classmethod
    def get(cls, fields: MimeFields, default_type: str) -> _PartFacts:
        key = (fields, default_type)
        facts = cls._known.get(key)
        if facts is None:
            if len(cls._known) >= MAX_REMEMBERED_PARTS:
                cls._known.clear()
            facts = cls._known[key] = cls(fields, default_type)
        return facts

    @classmethod
    def of(cls, part: EmailMessage) -> _PartFacts:
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


def _texts(msg: EmailMessage, defects: list[str], known: Mapping[int, _PartFacts]
           ) -> tuple[str, str, bool, list[str]]:
    """First text/plain, first text/html, whether a calendar is attached, attachment names.
    `known` has the facts of parts already looked at, by id()."""
    plain = html = ""
    has_calendar = False
    attachments: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        facts = known.get(id(part)) or _PartFacts.of(part)
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


# Only the headers something reads are decoded: decoding all of them costs more than parsing.
READ_HEADERS = frozenset(
    "subject date message-id in-reply-to references list-id list-unsubscribe list-post "
    "precedence auto-submitted x-auto-response-suppress feedback-id x-mailer user-agent "
    "return-path sender reply-to content-type x-campaign x-campaign-id x-mailgun-tag "
    "x-sg-eid x-mc-user x-triage-class list-help mailing-list x-mailing-list x-beenthere "
    "x-mailman-version".split()
)
READ_HEADER_PREFIXES = ("x-linkedin", "x-mailchimp", "x-outreach", "x-apollo")
_WANTED_HEADERS = READ_HEADERS | frozenset(ADDRESS_HEADERS)


def _headers(raw: dict[str, list[str]]) -> Mapping[str, str]:
    """First occurrence of each header triage reads, decoded."""
    return MappingProxyType({key: decode_header_value(values[0]) for key, values in raw.items()
                             if key not in ADDRESS_HEADERS})


# The usual RFC 5322 date, read as parsedate_to_datetime reads it (it ignores what follows the
# zone, such as "(UTC)"); anything else goes to parsedate_to_datetime itself.
_PLAIN_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
    r"|Nov|Dec) ([1-9]\d{3}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)(?: .*)?"
)
_MONTHS = {name: number for number, name in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        plain = _PLAIN_DATE.fullmatch(value)
        if not plain:
            return parsedate_to_datetime(value)
        day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = plain.groups()
        stamp = (int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
        if sign == "-" and zone_hours == zone_minutes == "00":
            return datetime(*stamp)  # -0000: the zone is unknown
        offset = int(zone_hours) * 3600 + int(zone_minutes) * 60
        return datetime(*stamp, tzinfo=timezone(timedelta(seconds=-offset if sign == "-"
                                                                  else offset)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _platform(sender: Address | None, headers: Mapping[str, str]) -> str:
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
    card_like = all(len(line.split()) <= 14 and not line.endswith((".", "!", "?"))
                    for line in lines)
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
        lines = [line.strip() for line in paragraph.splitlines()
                 if line.strip() and not _LINKEDIN_CHROME.search(line.strip())]
        if not lines or _is_card(lines, first_name):
            continue
        kept += [line for line in lines
                 if not _NO_NOTE_LINES.match(line) and not _BARE_GREETING.match(line)]
    return "\n".join(kept)


# ------------------------------------------------------------------------ MIME structure
#
# The stdlib's feedparser reads every line of every body through a Python generator, which costs
# more than everything else in parsing together. Most mail is plain: a header block, then one
# body or a clean multipart tree. For those, `_structure` builds the very same compat32 objects
# (same raw headers, payload strings, parts and top-level defects) with a handful of C-level
# searches; anything it does not reproduce exactly (bare CR line ends, message/* parts, digests,
# repeated boundary lines, odd header blocks, deep nesting) goes to the stdlib parser instead.

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
    fields = list(zip(names, map(str.rstrip, map(itemgetter(1), found), repeat("\r\n")),
                      strict=True))
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


def _structure(text: str, known: dict[int, _PartFacts], depth: int = 0
               ) -> tuple[EmailMessage, list[str]]:
    """Parse `text` (a message or, below the top, a body part) into compat32 objects, and the
    names of the defects feedparser would have recorded on it. The MIME facts of every part
    are put in `known`, by id()."""
    msg, fields, body_start, no_separator = _header_block(text)
    defects = ["MissingHeaderBodySeparatorDefect"] if no_separator else []
    # the default type is text/plain: only a digest's parts default to message/rfc822
    facts = known[id(msg)] = _PartFacts.get(fields, msg.get_default_type())
    maintype, _slash, subtype = facts.ctype.partition("/")
    if maintype == "message":
        raise _Unusual
    if maintype != "multipart":
        body = text[body_start:]
        if depth:  # the line break before a boundary belongs to the boundary
            body = body[:-2] if body.endswith("\r\n") else body[:-1] if body.endswith(
                "\n") else body
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


def _parse_mime(data: bytes) -> tuple[EmailMessage, list[str], dict[int, _PartFacts]]:
    """compat32 objects for the message, the names of its top-level defects, and the MIME
    facts of the parts already worked out (by id())."""
    text = data.decode("ascii", "surrogateescape")
    if "\r" not in text or not _BARE_CR.search(text):
        known: dict[int, _PartFacts] = {}
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


def parse_message(raw: bytes) -> Message:
    """Parse any bytes a server returns. Raises MessageParseError only for empty input."""
    if not raw or raw.isspace():  # isspace(), not strip(): no copy of a 50 MB message
        raise MessageParseError("empty message")
    defects: list[str] = []
    data = raw
    if len(raw) > MAX_PARSE_BYTES:
        data = raw[:MAX_PARSE_BYTES]
        defects.append("truncated")
    msg, found, known = _parse_mime(data)
    defects += sorted(set(found))

    raw_headers = _raw_headers(msg)
    headers = _headers(raw_headers)
    senders = _addresses(raw_headers.get("from", []))
    sender = senders[0] if senders else None
    plain, html, has_calendar, attachments = _texts(msg, defects, known)
    links: tuple[str, ...] = ()
    if html and len(plain.strip()) < 20:
        # Only HTML-only mail pays for the conversion; the plain alternative says the same.
        plain, links = html_to_text(html)
    body = plain.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT_CHARS]
    platform = _platform(sender, headers)
    if platform:
        new_text = linkedin_note(body, sender.name if sender else "")
        quoted = signature = ""
    else:
        new_text, quoted, signature = split_reply(body)
    # The newest ids are at the end of References and matter most for threading: read the
    # whole header (not the capped decoded copy) and keep its last 50 ids.
    references = " ".join(raw_headers.get("references", [])[:1])
    refs = tuple(ids_in(references))[-50:]
    return Message(
        message_id=first_id(raw_headers.get("message-id", [""])[0]),
        subject=headers.get("subject", ""),
        sender=sender,
        reply_to=_addresses(raw_headers.get("reply-to", [])),
        to=_addresses(raw_headers.get("to", [])),
        cc=_addresses(raw_headers.get("cc", [])),
        date=_date(headers.get("date", "")),
        in_reply_to=first_id(raw_headers.get("in-reply-to", [""])[0]),
        references=refs,
        headers=headers,
        body=body,
        new_text=new_text,
        quoted_text=quoted,
        signature=signature,
        platform=platform,
        has_calendar=has_calendar,
        attachments=tuple(attachments),
        links=links,
        size=len(raw),
        defects=tuple(defects),
    )
