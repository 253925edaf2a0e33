"""Raw bytes to an immutable `Message`: the parser (MIME in `mime`, header fields in `headers`,
platform notifications in `platforms`).

Mail is written by strangers, so parsing never trusts it: only the first `MAX_PARSE_BYTES` of a
message are parsed (a 50 MB attachment is never decoded), attachments are named but not decoded,
unknown or lying charsets fall back to UTF-8 and then Windows-1252, and control characters are
removed from every header value so nothing downstream can be tricked into header injection.
`parse_message` records what it had to tolerate in `defects` instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from triage.errors import MessageParseError
from triage.mail.message_ids import first_id, ids_in
from triage.message.headers import (
    Address,
    addresses,
    decoded_headers,
    header_date,
    header_fields,
)
from triage.message.htmltext import html_to_text
from triage.message.mime import parse_mime, texts
from triage.message.platforms import linkedin_note, platform_of
from triage.message.quoting import split_reply

MAX_PARSE_BYTES = 1_000_000
MAX_TEXT_CHARS = 60_000


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


def parse_message(raw: bytes) -> Message:
    """Parse any bytes a server returns. Raises MessageParseError only for empty input."""
    if not raw or raw.isspace():  # isspace(), not strip(): no copy of a 50 MB message
        raise MessageParseError("empty message")
    defects: list[str] = []
    data = raw
    if len(raw) > MAX_PARSE_BYTES:
        data = raw[:MAX_PARSE_BYTES]
        defects.append("truncated")
    msg, found, known = parse_mime(data)
    defects += sorted(set(found))

    raw_headers = header_fields(msg)
    headers = decoded_headers(raw_headers)
    senders = addresses(raw_headers.get("from", []))
    sender = senders[0] if senders else None
    plain, html, has_calendar, attachments = texts(msg, defects, known)
    links: tuple[str, ...] = ()
    if html and len(plain.strip()) < 20:
        # Only HTML-only mail pays for the conversion; the plain alternative says the same.
        plain, links = html_to_text(html)
    body = plain.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT_CHARS]
    platform = platform_of(sender, headers)
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
        reply_to=addresses(raw_headers.get("reply-to", [])),
        to=addresses(raw_headers.get("to", [])),
        cc=addresses(raw_headers.get("cc", [])),
        date=header_date(headers.get("date", "")),
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
