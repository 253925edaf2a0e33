"""Header fields as clean text: RFC 2047 decoded, unfolded, control characters removed,
capped; addresses read the way a mail client shows them. Only the headers something reads are
decoded: decoding all of them costs more than parsing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from itertools import compress, islice, repeat
from operator import itemgetter, or_
from types import MappingProxyType

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


@dataclass(frozen=True)
class Address:
    name: str
    addr: str

    def __str__(self) -> str:
        return f"{self.name} <{self.addr}>" if self.name else self.addr


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
        with contextlib.suppress(
            LookupError, UnicodeError, ValueError, TypeError, AssertionError, MessageError
        ):
            text = str(make_header(decode_header(text)))
    return _clean(text)


ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")


def header_fields(msg: EmailMessage) -> dict[str, list[str]]:
    """The headers triage reads, by lower-cased name, in one pass over the header list.

    Values stay as parsed, 8-bit bytes still surrogate-escaped: compat32's get_all() and items()
    would turn them into Header objects whose str() is U+FFFD replacement characters.
    """
    found: dict[str, list[str]] = {}
    items = list(islice(msg.raw_items(), MAX_HEADERS))
    # Names are lower-cased and tested in C-level loops; Python code runs for wanted ones only.
    keys = list(map(str.lower, map(str.strip, map(str, map(itemgetter(0), items)))))
    wanted = map(
        or_,
        map(_WANTED_HEADERS.__contains__, keys),
        map(str.startswith, keys, repeat(READ_HEADER_PREFIXES)),
    )
    for index in compress(range(len(keys)), wanted):
        value = str(items[index][1])
        if keys[index] in found:
            found[keys[index]].append(value)
        else:
            found[keys[index]] = [value]
    return found


def addresses(raw_values: list[str]) -> tuple[Address, ...]:
    if not raw_values:
        return ()
    values = [_unsurrogate(v[: MAX_HEADER_CHARS * 4]) for v in raw_values]
    simple = _simple_addresses(values)
    return simple if simple is not None else _parsed_addresses(values)


def _simple_addresses(values: list[str]) -> tuple[Address, ...] | None:
    """The common forms, "Name <addr>", a bare addr and comma-separated lists of them, without
    the full RFC 5322 parser (a tenth of parsing time on multi-recipient headers); None when a
    value needs that parser."""
    pieces = [
        piece.strip()
        for value in values
        for piece in (value.split(",") if "," in value else (value,))
    ]
    if len(pieces) > MAX_ADDRESSES or (
        len(pieces) > len(values) and any('"' in value for value in values)
    ):  # a quoted name may hold a comma
        return None
    found = []
    for piece in pieces:
        if not piece and len(pieces) > 1:
            continue  # "a@x, , b@x": the parser skips empty entries too
        simple = _SIMPLE_ADDRESS.fullmatch(piece)
        if not simple:
            return None
        display = simple.group(1) or ""
        found.append(
            Address(
                decode_header_value(display.strip().strip('"')),
                _clean(simple.group(2) or simple.group(3)).lower(),
            )
        )
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


def decoded_headers(raw: dict[str, list[str]]) -> Mapping[str, str]:
    """First occurrence of each header triage reads, decoded."""
    return MappingProxyType(
        {
            key: decode_header_value(values[0])
            for key, values in raw.items()
            if key not in ADDRESS_HEADERS
        }
    )


# The usual RFC 5322 date, read as parsedate_to_datetime reads it (it ignores what follows the
# zone, such as "(UTC)"); anything else goes to parsedate_to_datetime itself.
_PLAIN_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
    r"|Nov|Dec) ([1-9]\d{3}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)(?: .*)?"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1
    )
}


def header_date(value: str) -> datetime | None:
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
        return datetime(
            *stamp, tzinfo=timezone(timedelta(seconds=-offset if sign == "-" else offset))
        )
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
