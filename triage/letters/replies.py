"""The feedback draft as an RFC 5322 message: pure values in, bytes out.

`compose_draft` turns an offending message and its `Decision` into a reply the daemon appends
to the Drafts folder (with `\\Draft` and `\\Seen`). Nothing here sends mail, and nothing here
does I/O except reading the user's template files when a `templates_dir` is given.

Everything that reaches a header comes from a stranger, so no header value is trusted:

- display names and the subject are cleaned to one line (control, zero-width and bidi
  characters removed), capped in length, and `=?` is broken up so a literal encoded word in
  the sender's text cannot be decoded into CR/LF by the email package when it re-folds the
  header; non-ASCII text is RFC 2047-encoded by `email` with `policy.SMTP` (lines of at most
  78 characters, CRLF);
- addresses must be plain ASCII addr-specs (an IDN domain becomes punycode);
- Message-IDs are accepted only as `<printable ASCII>` and written by our own folding, one per
  line, so `email` never wraps a long Outlook ID into an encoded word (which breaks threading);
- the serialised draft is parsed back and must contain exactly the headers we set, one To,
  and no line over 998 octets; anything else raises `DraftError`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

from triage import paths
from triage.config import Config, DraftsConfig
from triage.decide.policy import Decision, is_noreply, is_role_address
from triage.errors import DraftError
from triage.letters.draft_templates import Templates, builtin_templates, clean_text, load_templates
from triage.letters.draft_text import Letter, compose_letter, message_key, strip_reply_prefixes
from triage.message.headers import Address
from triage.message.parse import Message

MAX_NAME_CHARS = 120  # display names in From/To
MAX_SUBJECT_CHARS = 250  # the base subject, before "Re: "
MAX_REFERENCES = 10  # message IDs in References: the first one and the latest ones
MAX_LINE_OCTETS = 998

_POLICY = email_policy.SMTP  # CRLF, lines folded at 78, RFC 2047 for non-ASCII
_MSG_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII without < > and space
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# Role and robot mailboxes: a Reply-To like this is not a person to give feedback to.


@dataclass(frozen=True)
class Draft:
    """A composed feedback draft and what the daemon needs to track it."""

    raw: bytes  # the RFC 5322 message, CRLF line endings
    message_id: str  # see `draft_message_id`
    to: str  # the recipient's address
    subject: str
    body: str
    letter: Letter  # which offense, word count, fingerprint (for `avoid`)


# --------------------------------------------------------------------------- headers


class _IdListHeader(str):
    """A header of message IDs, folded by us: one ID per line, never an encoded word.

    `email`'s folding turns a token longer than the line into RFC 2047 encoded words, which
    makes In-Reply-To and References unreadable to servers and clients; this object is
    passed through `policy.header_store_parse` as is and folds itself.
    """

    name: str

    def __new__(cls, name: str, ids: Iterable[str]) -> _IdListHeader:
        ids = list(ids)
        for item in ids:
            if not _MSG_ID.fullmatch(item):
                raise DraftError(f"not a usable message ID: {item[:80]!r}")
        value = super().__new__(cls, " ".join(ids))
        value.name = name
        return value

    def fold(self, *, policy: email_policy.Policy) -> str:
        linesep = policy.linesep
        lines: list[str] = []
        line = f"{self.name}:"
        for item in self.split(" "):
            if len(line) + 1 + len(item) > 78 and line != f"{self.name}:":
                lines.append(line)
                line = ""
            line += f" {item}"
        lines.append(line)
        return linesep.join(lines) + linesep


def _header_text(text: str, limit: int) -> str:
    """One safe line of header text: cleaned, capped, and no `=?` for `email` to decode."""
    text = clean_text(text, limit)
    return text.replace("=?", "= ?")


def _ascii_domain(domain: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return ""
    ascii_domain = ascii_domain.rstrip(".")
    return ascii_domain if _DOMAIN.fullmatch(ascii_domain) else ""


def _addr_spec(addr: str) -> str:
    """`addr` as a plain ASCII addr-spec, or "" when it cannot be one safely."""
    local, at, domain = addr.strip().rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or len(local) > 64:
        return ""
    domain = _ascii_domain(domain)
    return f"{local}@{domain}" if domain else ""


def _header_address(name: str, addr: str) -> HeaderAddress:
    spec = _addr_spec(addr)
    if not spec:
        raise DraftError(f"not a usable address: {addr[:80]!r}")
    local, _, domain = spec.rpartition("@")
    return HeaderAddress(
        display_name=_header_text(name, MAX_NAME_CHARS), username=local, domain=domain
    )


def _is_personal(addr: str, own: Collection[str]) -> bool:
    spec = _addr_spec(addr)
    if not spec or spec.lower() in own:
        return False
    return not is_role_address(spec)


def reply_recipient(original: Message, own_addresses: Collection[str] = ()) -> Address:
    """Whom the feedback goes to: the first personal Reply-To address, else the sender.

    A Reply-To that is a role or robot mailbox (`noreply@`, `sales@`, ...) or one of the
    user's own addresses is not honoured. Raises DraftError when there is nobody to write to.
    """
    own = {a.lower() for a in own_addresses}
    sender = original.sender
    for candidate in original.reply_to:
        if _is_personal(candidate.addr, own):
            name = candidate.name
            if (
                not name
                and sender
                and sender.addr.rpartition("@")[2] == candidate.addr.rpartition("@")[2]
            ):
                name = sender.name  # same organisation: most likely the same person
            return Address(name, candidate.addr)
    if sender is None or not _addr_spec(sender.addr):
        raise DraftError("the message has no usable sender address")
    if sender.addr.lower() in own:
        raise DraftError("the message is from one of your own addresses")
    if is_noreply(original):
        raise DraftError("the sender has no personal reply address")
    return sender


def reply_subject(subject: str) -> str:
    """`Re: ` and the original subject without its Re:/RE:/Aw:/Fwd: prefixes."""
    base = _header_text(
        strip_reply_prefixes(clean_text(subject, 4 * MAX_SUBJECT_CHARS)), MAX_SUBJECT_CHARS
    )
    base = strip_reply_prefixes(base)
    return f"Re: {base}" if base else "Re: your message"


def draft_message_id(original_message_id: str, user_address: str) -> str:
    """The draft's Message-ID: the same for the same original and user, on every run.

    `<triage.{32 hex digits}@{the user's domain}>`; the daemon finds drafts it already wrote by
    it. An empty `original_message_id` is hashed like any other value: pass
    `original_key(message)` for messages without a Message-ID.
    """
    key = original_message_id.strip().strip("<>").strip()
    digest = hashlib.sha256(f"triage-draft\0{key}".encode("utf-8", "surrogatepass")).hexdigest()
    domain = ""
    if "@" in user_address:
        domain = _ascii_domain(user_address.rpartition("@")[2])
    domain = domain or "triage.invalid"
    return f"<triage.{digest[:32]}@{domain}>"


def original_key(original: Message) -> str:
    """The original's Message-ID, or a stable stand-in built from its contents."""
    return message_key(original)


def draft_message_id_for(original: Message, user_address: str) -> str:
    return draft_message_id(original_key(original), user_address)


def thread_headers(original: Message) -> tuple[list[str], list[str]]:
    """In-Reply-To and References for a reply to `original` (each possibly empty).

    References is the original's References plus its Message-ID, trimmed to the first and the
    most recent IDs (RFC 5322 3.6.4), with malformed IDs dropped.
    """
    own_id = original.message_id if _MSG_ID.fullmatch(original.message_id) else ""
    refs = [r for r in original.references if _MSG_ID.fullmatch(r)]
    if not refs and original.in_reply_to and _MSG_ID.fullmatch(original.in_reply_to):
        refs = [original.in_reply_to]
    if own_id:
        refs = [r for r in refs if r != own_id] + [own_id]
    refs = list(dict.fromkeys(refs))
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1) :]
    return ([own_id] if own_id else []), refs


def user_templates_dir(config: Config) -> Path:
    """Where the user's template overrides live: `templates/` next to the config file."""
    base = config.source.parent if config.source is not None else paths.config_dir()
    return base / "templates"


# --------------------------------------------------------------------------- the draft


def build_draft(
    original: Message,
    decision: Decision,
    drafts: DraftsConfig,
    user_address: str,
    *,
    templates_dir: Path | None = None,
    templates: Templates | None = None,
    now: datetime | None = None,
    avoid: Collection[str] = (),
) -> Draft:
    """The feedback draft for `original`, and what the daemon records about it.

    `templates` (already loaded) wins over `templates_dir`; without either the built-in
    wording is used. `avoid` holds `Letter.fingerprint`s of drafts already written in this
    run, so no two get the same body. `now` is the Date (default: the current local time).
    """
    if not decision.offenses:
        raise DraftError("the decision names no offense to give feedback on")
    own = {user_address.lower(), *drafts.addresses}
    recipient = reply_recipient(original, own)
    if templates is None:
        templates = load_templates(templates_dir) if templates_dir else builtin_templates()
    letter = compose_letter(
        original,
        decision.offenses,
        drafts,
        user_address,
        recipient=recipient,
        templates=templates,
        avoid=avoid,
    )

    message_id = draft_message_id_for(original, user_address)
    in_reply_to, references = thread_headers(original)
    subject = reply_subject(original.subject)
    when = now or datetime.now()
    if when.tzinfo is None:
        when = when.astimezone()  # a naive time is local time

    msg = EmailMessage(policy=_POLICY)
    msg["From"] = _header_address(drafts.from_name, user_address)
    msg["To"] = _header_address(recipient.name, recipient.addr)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = _IdListHeader("Message-ID", [message_id])
    if in_reply_to:
        msg["In-Reply-To"] = _IdListHeader("In-Reply-To", in_reply_to)
    if references:
        msg["References"] = _IdListHeader("References", references)
    body = letter.text
    plain_ascii = body.isascii() and all(len(line) <= 78 for line in body.splitlines())
    msg.set_content(
        body, subtype="plain", charset="utf-8", cte="7bit" if plain_ascii else "quoted-printable"
    )
    raw = msg.as_bytes(policy=_POLICY)
    to = _addr_spec(recipient.addr)
    _verify(
        raw, to=to, message_id=message_id, threaded=bool(in_reply_to), referenced=bool(references)
    )
    return Draft(raw=raw, message_id=message_id, to=to, subject=subject, body=body, letter=letter)


def compose_draft(
    original: Message,
    decision: Decision,
    drafts: DraftsConfig,
    user_address: str,
    *,
    templates_dir: Path | None = None,
    now: datetime | None = None,
    avoid: Collection[str] = (),
) -> bytes:
    """The feedback draft for `original` as RFC 5322 bytes (CRLF). See `build_draft`."""
    return build_draft(
        original, decision, drafts, user_address, templates_dir=templates_dir, now=now, avoid=avoid
    ).raw


def _verify(raw: bytes, *, to: str, message_id: str, threaded: bool, referenced: bool) -> None:
    """Parse the draft back: exactly our headers, one To, single lines, nothing over 998."""
    if not raw.isascii():
        raise DraftError("the draft is not 7-bit clean")
    if any(len(line) > MAX_LINE_OCTETS for line in raw.split(b"\r\n")):
        raise DraftError("the draft has a line over 998 octets")
    if b"\r" in raw.replace(b"\r\n", b"") or b"\n" in raw.replace(b"\r\n", b""):
        raise DraftError("the draft has a bare CR or LF")
    parsed = BytesParser(policy=email_policy.default).parsebytes(raw)
    expected = ["From", "To", "Subject", "Date", "Message-ID"]
    expected += ["In-Reply-To"] if threaded else []
    expected += ["References"] if referenced else []
    expected += ["Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
    names = list(parsed.keys())
    if sorted(n.lower() for n in names) != sorted(n.lower() for n in expected):
        raise DraftError(f"the draft's headers came out wrong: {names}")
    recipients = parsed["To"].addresses
    if len(recipients) != 1 or recipients[0].addr_spec.lower() != to.lower():
        raise DraftError("the draft's To header came out wrong")
    for name in ("From", "To", "Subject"):
        if any(ch in str(parsed[name]) for ch in "\r\n\0"):
            raise DraftError(f"the draft's {name} header decodes to more than one line")
    if str(parsed["Message-ID"]).strip() != message_id:
        raise DraftError("the draft's Message-ID came out wrong")
