"""Raw bytes to an immutable `Message`: the only place that knows about MIME.

Mail is written by strangers, so parsing never trusts it: only the first `MAX_PARSE_BYTES` of a
message are parsed (a 50 MB attachment is never decoded), attachments are named but not decoded,
unknown or lying charsets fall back to UTF-8 and then Windows-1252, and control characters are
removed from every header value so nothing downstream can be tricked into header injection.
`parse_message` records what it had to tolerate in `defects` instead of raising.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from itertools import islice
from types import MappingProxyType

from triage.errors import MessageParseError
from triage.htmltext import html_to_text
from triage.quoting import split_reply

MAX_PARSE_BYTES = 1_000_000
MAX_TEXT_CHARS = 60_000
MAX_HEADER_CHARS = 2_000
MAX_HEADERS = 100
MAX_ADDRESSES = 100

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_SIMPLE_ADDRESS = re.compile(
    r'(?:((?:"[^"\\<>,]*"|[^"<>,;:@()\\]*?))\s*<([^<>@\s,;"()]+@[^<>@\s,;"()]+)>'
    r'|([^<>@\s,;"()]+@[^<>@\s,;"()]+))'
)
_SURROGATES = re.compile("[\udc80-\udcff]")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
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
    return " ".join(_CONTROL.sub(" ", text).split())[:MAX_HEADER_CHARS]


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
        try:
            text = str(make_header(decode_header(text)))
        except (LookupError, UnicodeError, ValueError, TypeError, AssertionError,
                MessageError):  # HeaderParseError (bad base64), CharsetError (bad name)
            pass  # keep the encoded form: readable enough, and never a crash
    return _clean(text)


ADDRESS_HEADERS = ("from", "to", "cc", "reply-to")


def _raw_headers(msg: EmailMessage) -> dict[str, list[str]]:
    """The headers triage reads, by lower-cased name, in one pass over the header list.

    Values stay as parsed, 8-bit bytes still surrogate-escaped: compat32's get_all() and items()
    would turn them into Header objects whose str() is U+FFFD replacement characters.
    """
    found: dict[str, list[str]] = {}
    for name, value in islice(msg.raw_items(), MAX_HEADERS):
        key = str(name).strip().lower()
        if key in READ_HEADERS or key in ADDRESS_HEADERS or key.startswith(READ_HEADER_PREFIXES):
            found.setdefault(key, []).append(str(value))
    return found


def _addresses(raw_values: list[str]) -> tuple[Address, ...]:
    values = [_unsurrogate(v[:MAX_HEADER_CHARS * 4]) for v in raw_values]
    if len(values) == 1:
        simple = _SIMPLE_ADDRESS.fullmatch(values[0].strip())
        if simple:  # the common "Name <addr>" or bare addr, without the full RFC 5322 parser
            display = simple.group(1) or ""
            return (Address(decode_header_value(display.strip().strip('"')),
                            _clean(simple.group(2) or simple.group(3)).lower()),)
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


def _decode_part(part: EmailMessage, defects: list[str]) -> str:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        defects.append("undecodable-transfer-encoding")
        return ""
    if not isinstance(payload, bytes):
        return ""
    codec = _charset_codec(part.get_content_charset())
    try:
        return payload.decode(codec)
    except (UnicodeDecodeError, LookupError):
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


def _texts(msg: EmailMessage, defects: list[str]) -> tuple[str, str, bool, list[str]]:
    """First text/plain, first text/html, whether a calendar is attached, attachment names."""
    plain = html = ""
    has_calendar = False
    attachments: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype.startswith("multipart/"):
            ctype = "text/plain"  # boundary missing or never found: the parser kept it as text
        name = _filename(part)
        if ctype == "text/calendar" or name.lower().endswith(".ics"):
            has_calendar = True
        # str(): compat32 returns a Header object when the value has 8-bit bytes
        disposition = str(part.get("content-disposition") or "").split(";")[0].strip().lower()
        if disposition == "attachment" or (name and not ctype.startswith("text/")):
            attachments.append(name or ctype)
            continue
        if ctype == "text/plain" and not plain:
            plain = _decode_part(part, defects)
        elif ctype == "text/html" and not html:
            html = _decode_part(part, defects)
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


def _headers(raw: dict[str, list[str]]) -> Mapping[str, str]:
    """First occurrence of each header triage reads, decoded."""
    return MappingProxyType({key: decode_header_value(values[0]) for key, values in raw.items()
                             if key not in ADDRESS_HEADERS})


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
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
    r"|all rights reserved|linkedin corporation|registered trademarks?|^\s*\d+\s*$|^[-_=*]{3,}$)"
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


def parse_message(raw: bytes) -> Message:
    """Parse any bytes a server returns. Raises MessageParseError only for empty input."""
    if not raw or raw.isspace():  # isspace(), not strip(): no copy of a 50 MB message
        raise MessageParseError("empty message")
    defects: list[str] = []
    data = raw
    if len(raw) > MAX_PARSE_BYTES:
        data = raw[:MAX_PARSE_BYTES]
        defects.append("truncated")
    try:
        msg = message_from_bytes(data, policy=compat32)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser is documented not to raise
        raise MessageParseError(f"unparseable message: {type(exc).__name__}") from None
    defects += sorted({type(d).__name__ for d in msg.defects})

    raw_headers = _raw_headers(msg)
    headers = _headers(raw_headers)
    senders = _addresses(raw_headers.get("from", []))
    sender = senders[0] if senders else None
    plain, html, has_calendar, attachments = _texts(msg, defects)
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
    refs = tuple(_MESSAGE_ID.findall(_unsurrogate(references)))[-50:]
    in_reply_to = _MESSAGE_ID.search(headers.get("in-reply-to", ""))
    message_id = _MESSAGE_ID.search(headers.get("message-id", ""))
    return Message(
        message_id=message_id.group(0) if message_id else "",
        subject=headers.get("subject", ""),
        sender=sender,
        reply_to=_addresses(raw_headers.get("reply-to", [])),
        to=_addresses(raw_headers.get("to", [])),
        cc=_addresses(raw_headers.get("cc", [])),
        date=_date(headers.get("date", "")),
        in_reply_to=in_reply_to.group(0) if in_reply_to else "",
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
