"""`parse_message`: raw bytes from strangers -> an immutable Message, never a crash.

Every test builds its input as bytes, the way a server hands a message over, and checks what a
later stage reads: decoded headers, the chosen text, the defects the parser had to tolerate.
"""

from __future__ import annotations

import base64
import dataclasses
import quopri
import random
import re
import tracemalloc
from datetime import timedelta

import pytest

from triage.errors import MessageParseError
from triage.message import headers as header_module
from triage.message.headers import MAX_HEADER_CHARS
from triage.message.parse import (
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    Message,
    parse_message,
)

CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def mail(headers: str | bytes, body: str | bytes = "Hello there.\n") -> bytes:
    head = headers.encode() if isinstance(headers, str) else headers
    text = body.encode() if isinstance(body, str) else body
    return head.strip(b"\n") + b"\n\n" + text


def assert_clean_headers(msg: Message) -> None:
    """No control character survives in anything a later stage could write into a header."""
    people = [msg.sender, *msg.reply_to, *msg.to, *msg.cc]
    values = [
        msg.subject,
        msg.message_id,
        msg.in_reply_to,
        *msg.references,
        *msg.headers.values(),
        *msg.attachments,
    ]
    values += [p.name for p in people if p] + [p.addr for p in people if p]
    for value in values:
        assert not CONTROL.search(value), repr(value)


def parse_or_parse_error(raw: bytes) -> Message | None:
    """Hostile input may give a Message or a MessageParseError, and nothing else."""
    try:
        msg = parse_message(raw)
    except MessageParseError:
        return None
    assert isinstance(msg, Message)
    assert_clean_headers(msg)
    assert len(msg.body) <= MAX_TEXT_CHARS
    return msg


# ------------------------------------------------------------------------------------ headers


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"),
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", "Grüße aus Köln"),
        ("=?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=", "Grüße aus Köln"),
        ("=?iso-2022-jp?b?GyRCJDMkcyRLJEEkTxsoQg==?=", "こんにちは"),
        ("=?windows-1251?B?z/Do4uXy?=", "Привет"),
        # adjacent encoded words are joined without the whitespace between them (RFC 2047 6.2)
        ("=?utf-8?q?Caf=C3=A9?= =?utf-8?q?_cr=C3=A8me?=", "Café crème"),
        ("Re: =?utf-8?b?8J+OiSBjb25ncmF0cw==?= on the launch", "Re: 🎉 congrats on the launch"),
    ],
)
def test_rfc2047_subjects_are_decoded(encoded: str, decoded: str) -> None:
    assert parse_message(mail(f"Subject: {encoded}")).subject == decoded


def test_mixed_charsets_in_one_header() -> None:
    subject = "=?utf-8?q?Caf=C3=A9?= and =?iso-8859-2?q?=B3=F3d=BC?= =?koi8-r?b?8NLJ18XU?= plain"
    assert parse_message(mail(f"Subject: {subject}")).subject == "Café and łódźПривет plain"


def test_encoded_display_names_and_addresses() -> None:
    msg = parse_message(
        mail(
            "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <Joerg.Mueller@Example.DE>\n"
            'To: =?utf-8?b?5byg5Lyf?= <zhang@example.cn>, "Doe, Jane" <jane@example.com>\n'
            "Cc: plain@example.org\n"
            "Reply-To: =?utf-8?q?Ana_Souza?= <ana@example.br>\n"
        )
    )
    assert (msg.sender.name, msg.sender.addr) == ("Jörg Müller", "joerg.mueller@example.de")
    assert [(a.name, a.addr) for a in msg.to] == [
        ("张伟", "zhang@example.cn"),
        ("Doe, Jane", "jane@example.com"),
    ]
    assert [(a.name, a.addr) for a in msg.cc] == [("", "plain@example.org")]
    assert [(a.name, a.addr) for a in msg.reply_to] == [("Ana Souza", "ana@example.br")]


@pytest.mark.parametrize(
    "subject",
    [
        "=?utf-8?B?!!!notbase64?= x",  # invalid base64
        "=?utf-8?B?SGVsbG8?= x",  # bad padding
        "=?x-unknown?B?SGVsbG8=?= x",  # unknown charset
        "=?utf-8?Q?unterminated x",  # no closing ?=
        "=?utf-8?X?SGVsbG8=?= x",  # unknown encoding letter
        "=??B?SGVsbG8=?= x",  # empty charset
        "=?utf-8*de?Q?Hallo?= x",  # RFC 2231 language tag
        "=?utf-8?q?=FF=FE=C3?= x",  # bytes that are not UTF-8
        "=?utf-8?B?" + "A" * 5000 + "?= x",  # a very long word
    ],
)
def test_malformed_encoded_words_give_a_clean_subject(subject: str) -> None:
    msg = parse_message(mail(f"From: a@example.com\nSubject: {subject}"))
    assert_clean_headers(msg)
    assert msg.subject.endswith("x")  # the readable rest of the header survives
    assert len(msg.subject) <= MAX_HEADER_CHARS


@pytest.mark.parametrize("charset", ["utf-8", "cp1252", "latin-1"])
def test_8bit_raw_headers_are_read_as_text(charset: str) -> None:
    raw = mail("From: Jörg Müller <j@example.de>\nSubject: Grüße aus Köln".encode(charset))
    msg = parse_message(raw)
    assert msg.subject == "Grüße aus Köln"
    assert msg.sender is not None
    assert (msg.sender.name, msg.sender.addr) == ("Jörg Müller", "j@example.de")


def test_8bit_raw_list_headers_are_read_as_text() -> None:
    raw = mail("From: a@example.com\nList-Id: Café Société <cafe.lists.example.org>".encode())
    assert parse_message(raw).header("List-Id") == "Café Société <cafe.lists.example.org>"


@pytest.mark.parametrize(
    "headers",
    [
        # encoded CR/LF/NUL inside encoded words: decoding must not smuggle a header line in
        "From: =?utf-8?b?"
        + base64.b64encode(b"Eve\r\nBcc: x@evil.example\x00\x07").decode()
        + "?= <eve@example.com>\n"
        "Subject: =?utf-8?q?hi=0D=0ABcc=3A_evil=40example.com=0A=0D?=\n"
        "To: =?utf-8?q?Bob=0D=0AX-Injected=3A_1?= <bob@example.com>",
        # raw control characters other than line breaks
        b"From: Eve\x00\x1b[31m <eve@example.com>\n"
        b"Subject: hi\x00\x1b[31mthere\x7f\n"
        b"To: Bob\x0b\x0c <bob@example.com>",
        # unicode line and paragraph separators, raw
        "From: Eve\u2028Bcc: x <eve@example.com>\nSubject: hi\u2029there\n"
        "To: Bob <bob@example.com>".encode(),
    ],
    ids=["encoded", "raw-controls", "unicode-separators"],
)
def test_header_injection_characters_are_stripped(headers: str | bytes) -> None:
    msg = parse_message(mail(headers))
    assert_clean_headers(msg)
    assert msg.subject.startswith("hi")
    assert msg.sender is not None and msg.sender.addr == "eve@example.com"
    assert [a.addr for a in msg.to] == ["bob@example.com"]


def test_bare_cr_in_a_header_cannot_forge_a_header() -> None:
    """A bare CR ends the line for the stdlib parser; whatever follows is a header of its own,
    never part of the subject or sender that later stages read."""
    msg = parse_message(
        mail(
            b"From: eve@example.com\rBcc: x@evil.example\n"
            b"Subject: hi\rX-Triage-Class: relationship\n"
        )
    )
    assert_clean_headers(msg)
    assert "Bcc" not in msg.subject and "X-Triage" not in msg.subject
    assert msg.subject.startswith("hi")


def test_folded_headers_are_unfolded() -> None:
    msg = parse_message(mail("Subject: a long subject\n\tthat was folded\n  twice\n"))
    assert msg.subject == "a long subject that was folded twice"


def test_threading_headers_and_date() -> None:
    msg = parse_message(
        mail(
            "Message-ID: <abc.123@mail.example.com>\n"
            "In-Reply-To: <parent@example.com> (Jane's message)\n"
            "References: <root@example.com>\n <parent@example.com>\n"
            "Date: Tue, 04 Mar 2025 09:12:00 +0100\n"
        )
    )
    assert msg.message_id == "<abc.123@mail.example.com>"
    assert msg.in_reply_to == "<parent@example.com>"
    assert msg.references == ("<root@example.com>", "<parent@example.com>")
    assert msg.date is not None
    assert msg.date.utcoffset() == timedelta(hours=1)
    assert (msg.date.year, msg.date.month, msg.date.day, msg.date.hour) == (2025, 3, 4, 9)


@pytest.mark.parametrize("date", ["not a date", "Tue, 99 Foo 2025 99:99:99", "", "0" * 500])
def test_bad_dates_become_none(date: str) -> None:
    assert parse_message(mail(f"Subject: s\nDate: {date}")).date is None


def test_headers_mapping_is_read_only_and_keeps_the_first_occurrence() -> None:
    msg = parse_message(
        mail("List-Id: <first.example.org>\nList-Id: <second.example.org>\nX-Unrelated: ignored")
    )
    assert msg.header("list-id") == "<first.example.org>"
    assert msg.header("LIST-ID") == "<first.example.org>"
    with pytest.raises(TypeError):
        msg.headers["list-id"] = "forged"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.subject = "changed"  # type: ignore[misc]


def test_recipient_lists_read_the_same_with_and_without_the_full_address_parser() -> None:
    """Plain lists take a short cut past email's RFC 5322 parser; every form must come out as
    the parser reads it, and forms the short cut cannot read must still reach the parser."""
    headers = [
        "Ana <ana@x.org>, bob@y.com,  Chen  Wei  <Chen.Wei@Z.cn> , ",
        "=?utf-8?q?Zo=C3=AB?= <zoe@x.fr>,dan@x.io",
        '"Doe, Jane" <jane@x.com>, Al <al@x.com>',  # a comma inside quotes
        "Team (work) <team@x.com>, Bo <bo@x.com>",  # a comment
        "undisclosed-recipients:;",
    ]
    for header in headers:
        msg = parse_message(mail(f"To: {header}\n"))
        assert msg.to == header_module._parsed_addresses([header]), header
    listed = parse_message(mail("To: Ana <ana@x.org>, bob@y.com,  Chen  Wei  <Chen.Wei@Z.cn> ,\n"))
    assert [(a.name, a.addr) for a in listed.to] == [
        ("Ana", "ana@x.org"),
        ("", "bob@y.com"),
        ("Chen Wei", "chen.wei@z.cn"),
    ]


@pytest.mark.parametrize(
    "from_value",
    [
        "victim@evil.example <derek@sender.example>",
        "you@example.com <derek@sender.example>",
        "victim@evil.example <derek@sender.example> (a comment sends it to the full parser)",
        "victim@evil.example\t<derek@sender.example>",
    ],
)
def test_the_sender_is_the_address_in_angle_brackets_not_the_name(from_value: str) -> None:
    """A display name that looks like an address is a name (issue 10, item 5): drafts, allow
    lists, own-mail checks, sender history and cooldowns all read msg.sender.addr."""
    msg = parse_message(
        mail(
            f"From: {from_value}\nTo: ceo@partner.example <bad@evil.example>, "
            f"b@x.example\nSubject: s".encode(),
            b"hi\n",
        )
    )
    assert msg.sender is not None and msg.sender.addr == "derek@sender.example"
    assert [a.addr for a in msg.to] == ["bad@evil.example", "b@x.example"]


def test_address_headers_without_usable_address() -> None:
    msg = parse_message(mail('From: undisclosed-recipients:;\nTo: ((((\nCc: <>, @, ""\n'))
    assert_clean_headers(msg)
    assert msg.sender is None or msg.sender.addr == ""


def test_deeply_nested_comments_in_an_address_header() -> None:
    """email's address parser recurses on "(": it must not escape as RecursionError."""
    msg = parse_message(mail(b"From: a@example.com\nTo: " + b"(" * 50_000 + b"\n"))
    assert msg.sender is not None and msg.sender.addr == "a@example.com"
    assert msg.to == ()


@pytest.mark.timeout(30)  # a hang guard, not a speed target: linear parsing takes milliseconds
def test_huge_encoded_header_is_capped_in_bounded_time() -> None:
    raw = mail(b"Subject: " + b"=?utf-8?q?spam?= " * 55_000)  # about the 1 MB parse limit
    msg = parse_message(raw)
    assert msg.subject.startswith("spam")
    assert len(msg.subject) <= MAX_HEADER_CHARS


# --------------------------------------------------------------------------------- body text

ALTERNATIVE = """From: a@example.com
Subject: s
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/html; charset=utf-8

<p>The HTML version mentions pineapple, which the plain version does not.</p>
--b1
Content-Type: text/plain; charset=utf-8

The plain version mentions banana and is long enough to be the text.
--b1--
"""


def test_text_plain_is_preferred_over_html() -> None:
    msg = parse_message(ALTERNATIVE.encode())
    assert "banana" in msg.body
    assert "pineapple" not in msg.body


def test_empty_plain_alternative_falls_back_to_html() -> None:
    raw = ALTERNATIVE.replace(
        "The plain version mentions banana and is long enough to be the text.", " "
    ).encode()
    assert "pineapple" in parse_message(raw).body


HTML_ONLY = """<html><head><title>TITLE-SHOULD-GO</title>
<style>p {{ color: red }} .x:before {{ content: "STYLE-SHOULD-GO" }}</style></head>
<body><SCRIPT type="text/javascript">document.write("SCRIPT-SHOULD-GO")</SCRIPT>
<p>Caf&eacute; &amp; cr&#232;me &lt;b&gt; &#x263A; &nbsp;done</p>
<div>Second paragraph</div><!-- COMMENT-SHOULD-GO -->
<blockquote>quoted line one<br>quoted line two<blockquote>deeper</blockquote></blockquote>
<p>After the quote: <a href="https://example.com/page">the link text</a>
<img src="https://tracker.example.com/open.gif" alt=""></p>
</body></html>"""


def test_html_only_body_becomes_readable_text() -> None:
    msg = parse_message(
        mail("From: a@example.com\nSubject: s\nContent-Type: text/html; charset=utf-8", HTML_ONLY)
    )
    for dropped in ("TITLE", "STYLE", "SCRIPT", "COMMENT", "<p", "<div", "<img", "color:"):
        assert dropped not in msg.body
    assert "Café & crème <b> ☺" in msg.body
    assert re.search(r"(?m)^Second paragraph$", msg.body)
    assert re.search(r"(?m)^> quoted line one$", msg.body)
    assert re.search(r"(?m)^> quoted line two$", msg.body)
    assert re.search(r"(?m)^> > deeper$", msg.body)
    assert "the link text" in msg.body
    assert "https://example.com/page" in msg.links
    # the quoted part is history, not what the sender wrote now
    assert "quoted line one" in msg.quoted_text
    assert "quoted line one" not in msg.new_text
    assert "After the quote" in msg.new_text


@pytest.mark.parametrize(
    ("content_type", "payload", "expected"),
    [
        ("text/plain; charset=x-unknown", "Café".encode(), "Café"),
        ('text/plain; charset="utf8 "', "Café".encode(), "Café"),
        ('text/plain; charset=""', "Café".encode(), "Café"),
        ("text/plain; charset=utf-8", "Café crème".encode("latin-1"), "Café crème"),
        ("text/plain; charset=us-ascii", "Café".encode(), "Café"),
        ("text/plain; charset=iso-8859-1", "Café".encode("latin-1"), "Café"),
        (
            "text/plain; charset=windows-1252",
            "“smart” – quotes".encode("cp1252"),
            "“smart” – quotes",
        ),
        ("text/plain; charset=utf-16", "Hallo Welt\n".encode("utf-16"), "Hallo Welt"),
        ('text/plain; charset="=?utf-8?q?x?="', b"plain words", "plain words"),
        # codecs that raise a plain UnicodeError, not UnicodeDecodeError (issue 10, item 1)
        ("text/plain; charset=undefined", "Café".encode(), "Café"),
        ("text/plain; charset=punycode", "Café".encode(), "Café"),
        (
            "text/plain; charset=idna",
            b"\xff\xfeintro",
            "\xff\xfeintro".encode("latin-1").decode("cp1252", "replace"),
        ),
    ],
)
def test_broken_and_lying_charsets_are_tolerated(
    content_type: str, payload: bytes, expected: str
) -> None:
    raw = mail(
        f"From: a@example.com\nSubject: s\nContent-Type: {content_type}".encode(),
        payload if payload.endswith((b"\n", b"\n\x00")) else payload + b"\n",
    )
    assert parse_message(raw).body.strip() == expected


def test_wrong_declared_charset_is_recorded_as_a_defect() -> None:
    raw = mail(b"Subject: s\nContent-Type: text/plain; charset=utf-8", b"Caf\xe9\n")
    msg = parse_message(raw)
    assert msg.body.strip() == "Café"
    assert any(d.startswith("bad-charset") for d in msg.defects)


def test_base64_body() -> None:
    text = "Grüße aus Köln, wie geht's? " * 20
    raw = mail(
        "Subject: s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64",
        base64.encodebytes(text.encode()).decode(),
    )
    assert parse_message(raw).body.strip() == text.strip()


def test_quoted_printable_body_with_soft_line_breaks() -> None:
    text = "Café au lait " * 20 + "= equals sign and a very long line at the end"
    encoded = quopri.encodestring(text.encode("latin-1")).decode()
    assert "=\n" in encoded  # the encoder folded the long line
    raw = mail(
        "Subject: s\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable",
        encoded,
    )
    assert parse_message(raw).body.strip() == text


@pytest.mark.parametrize(
    ("cte", "payload"),
    [
        ("base64", "!!!! this is not base64 at all ####\n"),
        ("base64", "SGVsbG8gd29ybGQ"),  # missing padding
        ("quoted-printable", "broken =ZZ escape and a dangling =\n"),
        ("x-uuencode", "begin 644 f\nM86)C\n`\nend\n"),
        ("7bit", "unknown\x00nul\n"),
        ("gzip", "not really gzip"),
    ],
)
def test_broken_transfer_encodings_do_not_crash(cte: str, payload: str) -> None:
    raw = mail(
        f"From: a@example.com\nSubject: s\nContent-Type: text/plain\n"
        f"Content-Transfer-Encoding: {cte}",
        payload,
    )
    msg = parse_or_parse_error(raw)
    assert msg is not None
    assert msg.subject == "s"


NESTED = """From: Jane <jane@example.com>
Subject: Meeting notes and invite
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="related"

--related
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Notes from today are below, and the invite is attached. Caf=C3=A9 at 10?
--alt
Content-Type: text/html; charset=utf-8

<p>HTML alternative that should not be used</p>
--alt--
--related
Content-Type: image/png; name="logo.png"
Content-ID: <logo>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--related--
--outer
Content-Type: text/calendar; method=REQUEST; charset=utf-8

BEGIN:VCALENDAR
END:VCALENDAR
--outer
Content-Type: application/pdf; name="=?utf-8?q?Notizen_K=C3=B6ln.pdf?="
Content-Disposition: attachment; filename="=?utf-8?q?Notizen_K=C3=B6ln.pdf?="
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: message/rfc822

From: someone@example.com
Subject: forwarded inner message

Inner body text.
--outer--
"""


def test_nested_multipart() -> None:
    msg = parse_message(NESTED.encode())
    assert msg.body.startswith("Notes from today are below")
    assert "Café at 10?" in msg.body
    assert "HTML alternative" not in msg.body
    assert "iVBOR" not in msg.body and "JVBER" not in msg.body
    assert msg.has_calendar
    assert "Notizen Köln.pdf" in msg.attachments
    assert "logo.png" in msg.attachments


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/mixed",  # no boundary parameter at all
        "multipart/mixed; boundary=NEVER-USED",  # a boundary that never appears
        'multipart/alternative; boundary=""',  # an empty boundary
    ],
)
def test_missing_boundaries_keep_the_text(content_type: str) -> None:
    raw = mail(
        f"From: a@example.com\nSubject: s\nContent-Type: {content_type}",
        "This text is all there is and it should still be read.\n",
    )
    msg = parse_message(raw)
    assert "all there is" in msg.body
    assert msg.defects  # the parser says what it tolerated


def test_missing_close_boundary() -> None:
    raw = mail(
        'From: a@example.com\nSubject: s\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nThe only part, never closed.\n",
    )
    msg = parse_message(raw)
    assert msg.body.strip() == "The only part, never closed."
    assert "CloseBoundaryNotFoundDefect" in msg.defects


def test_deeply_nested_multipart_is_a_message_or_a_parse_error() -> None:
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(3000)
    )
    parse_or_parse_error(b"From: a@example.com\nSubject: deep\n" + head + b"\ninnermost\n")


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_multipart_nested_1000_deep_is_read_as_text_and_decided(newline: bytes) -> None:
    """Past MAX_MULTIPARTS the structure is not parsed (issue 10, item 9): the stdlib parser
    recursed once a level, took seconds and then failed, so the message got no decision."""
    inner = b"Content-Type: text/plain\n\nCould you introduce me to your CTO?\n"
    for level in range(1000):
        b = b"b%d" % level
        inner = (
            b'Content-Type: multipart/mixed; boundary="'
            + b
            + b'"\n\n--'
            + b
            + b"\n"
            + inner
            + b"\n--"
            + b
            + b"--\n"
        )
    raw = (b"From: a@example.com\nSubject: deep\nMIME-Version: 1.0\n" + inner).replace(
        b"\n", newline
    )
    msg = parse_message(raw)
    assert "introduce me to your CTO" in msg.body
    assert "MultipartNestingTooDeep" in msg.defects
    assert msg.subject == "deep"


def test_many_parts_are_bounded() -> None:
    parts = b"".join(b"--b\nContent-Type: text/plain\n\npart %d\n" % i for i in range(20_000))
    raw = b"Subject: parts\nContent-Type: multipart/mixed; boundary=b\n\n" + parts + b"--b--\n"
    msg = parse_message(raw)
    assert msg.body.strip() == "part 0"  # the first text/plain part is the text
    assert len(msg.attachments) == 0


def _big_attachment_message(size: int) -> bytes:
    head = (
        b"From: Jane <jane@example.com>\nTo: sam@example.org\nSubject: the dataset\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="BOUNDARY"\n\n'
        b"--BOUNDARY\nContent-Type: text/plain; charset=utf-8\n\n"
        b"Here is the dataset you asked for.\n\n"
        b'--BOUNDARY\nContent-Type: application/octet-stream; name="dataset.bin"\n'
        b'Content-Disposition: attachment; filename="dataset.bin"\n'
        b"Content-Transfer-Encoding: base64\n\n"
    )
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\n"
    return head + line * (size // len(line)) + b"\n--BOUNDARY--\n"


def test_50_mb_attachment_is_named_but_never_decoded() -> None:
    raw = _big_attachment_message(50_000_000)
    assert len(raw) >= 50_000_000
    tracemalloc.start()
    try:
        msg = parse_message(raw)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"parsing allocated {peak / 1e6:.1f} MB beyond the input"
    assert msg.attachments == ("dataset.bin",)
    assert msg.body.strip() == "Here is the dataset you asked for."
    assert "QUJDREVG" not in msg.body and "ABCDEF" not in msg.body
    assert "truncated" in msg.defects
    assert msg.size == len(raw)


def test_message_just_under_the_parse_limit_is_not_truncated() -> None:
    raw = _big_attachment_message(MAX_PARSE_BYTES - 2_000)
    assert len(raw) <= MAX_PARSE_BYTES
    msg = parse_message(raw)
    assert "truncated" not in msg.defects
    assert msg.attachments == ("dataset.bin",)


def test_body_text_is_capped() -> None:
    msg = parse_message(mail("Subject: long", "word " * (MAX_TEXT_CHARS // 2)))
    assert len(msg.body) == MAX_TEXT_CHARS


def test_crlf_message_gives_the_same_text_as_lf() -> None:
    lf = parse_message(ALTERNATIVE.encode())
    crlf = parse_message(ALTERNATIVE.replace("\n", "\r\n").encode())
    assert "\r" not in crlf.body
    assert (crlf.subject, crlf.body, crlf.new_text) == (lf.subject, lf.body, lf.new_text)


# ----------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("raw", [b"", b"\n", b"\r\n\r\n", b"   \t  ", b"\n" * 1000])
def test_empty_input_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(MessageParseError):
        parse_message(raw)


@pytest.mark.parametrize("seed", range(40))
def test_garbage_bytes_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice((1, 7, 100, 4_000, 70_000))
    parse_or_parse_error(bytes(rng.randrange(256) for _ in range(size)))


@pytest.mark.parametrize("seed", range(40))
def test_mutated_mail_never_crashes(seed: int) -> None:
    """Real structure with random damage: the interesting inputs for a MIME parser."""
    rng = random.Random(seed)
    data = bytearray(NESTED.encode() if seed % 2 else ALTERNATIVE.encode())
    for _ in range(rng.randrange(1, 30)):
        position = rng.randrange(len(data))
        choice = rng.random()
        if choice < 0.4:
            data[position] = rng.randrange(256)
        elif choice < 0.7:
            del data[position : position + rng.randrange(1, 40)]
        else:
            data[position:position] = rng.choice(
                (b"=?", b"?=", b"\n\n", b"--", b"\r", b"\x00", b"<", b"boundary=", b";", b'"')
            )
    parse_or_parse_error(bytes(data))


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\xff\xfe garbage \x80\x81\n\n\x00\x01",
        b"no header here at all, just text",
        b"Subject: only a header",
        b"From:\nTo:\nSubject:\nDate:\nMessage-ID:\n\n",
        b": no name\n\nbody",
        b"Content-Type: text/plain; charset=" + b"x" * 10_000 + b"\n\nbody",
        b"Content-Type: " + b";" * 10_000 + b"\n\nbody",
        b"X-Header: " + b"a" * 2_000_000 + b"\n\nbody",
        b"Subject: s\n\n" + b"On " * 300_000,
        b"Subject: s\n\n" + b">" * 500_000,
        b"\xef\xbb\xbfSubject: BOM first\n\nbody",
    ],
    ids=[
        "binary",
        "no-header",
        "no-body",
        "empty-values",
        "no-name",
        "long-charset",
        "semicolons",
        "2mb-header",
        "many-on",
        "many-quote-marks",
        "bom",
    ],
)
def test_hostile_shapes_give_a_message_or_a_parse_error(raw: bytes) -> None:
    parse_or_parse_error(raw)


# --------------------------------------------------------------------- platform notifications

LINKEDIN_FOOTER = """Accept: https://www.linkedin.com/comm/mynetwork/invite-accept/7123/?trk=eml

View profile: https://www.linkedin.com/comm/in/jane-doe-4a1b2c3d?trk=eml

-----------------------------------------

This email was intended for Sam Reader (Data Scientist at Acme)
Learn why we included this: https://www.linkedin.com/help/linkedin/answer/4788
You are receiving Invitation emails.
Unsubscribe: https://www.linkedin.com/comm/psettings/email-unsubscribe?trk=eml
Help: https://www.linkedin.com/help/linkedin/answer/67

© 2025 LinkedIn Corporation, 1000 West Maude Avenue, Sunnyvale, CA 94085. LinkedIn and the \
LinkedIn logo are registered trademarks of LinkedIn."""


def linkedin_invitation(card_and_note: str, *, html: bool = False) -> bytes:
    ctype = "text/html" if html else "text/plain"
    body = card_and_note if html else f"{card_and_note}\n\n{LINKEDIN_FOOTER}"
    return mail(
        "From: Jane Doe <invitations@linkedin.com>\nTo: Sam Reader <sam@example.org>\n"
        "Subject: Jane Doe wants to connect\nMessage-ID: <inv-1@linkedin.com>\n"
        f"X-LinkedIn-Class: INVITE-GUEST\nContent-Type: {ctype}; charset=utf-8",
        body,
    )


NOTE = (
    "Hi Sam, I really enjoyed your PyData talk on feature stores and would love to stay in touch."
)


@pytest.mark.parametrize("quote", ["“{}”", '"{}"', "{}"])
def test_linkedin_invitation_note_is_the_new_text(quote: str) -> None:
    card = (
        "Jane Doe has invited you to connect\n\nJane Doe\n"
        "Senior Product Lead at Foo Analytics\n3 mutual connections\n\n" + quote.format(NOTE)
    )
    msg = parse_message(linkedin_invitation(card))
    assert msg.platform == "linkedin"
    assert msg.new_text == NOTE
    assert msg.quoted_text == "" and msg.signature == ""


def test_linkedin_html_invitation_note() -> None:
    card = (
        "<html><body><h2>Jane Doe has invited you to connect</h2>"
        "<p>Jane Doe<br>Senior Product Lead at Foo Analytics</p>"
        f"<p>&ldquo;{NOTE}&rdquo;</p>"
        '<a href="https://www.linkedin.com/comm/x">Accept</a> '
        '<a href="https://www.linkedin.com/comm/y">View profile</a>'
        "<p>This email was intended for Sam Reader. "
        '<a href="https://www.linkedin.com/u">Unsubscribe</a></p></body></html>'
    )
    msg = parse_message(linkedin_invitation(card, html=True))
    assert msg.platform == "linkedin"
    assert msg.new_text == NOTE


@pytest.mark.parametrize(
    "card",
    [
        "Jane wants to connect with you\n\nJane Doe\nSenior Product Lead at Foo Analytics",
        "Jane Doe has invited you to connect\n\nJane Doe\nHelping B2B teams grow pipeline | "
        "Founder @ Outreachly\nGreater Chicago Area\n12 mutual connections",
        "You have an invitation\n\nJane Doe\nData Scientist at Acme",
        "Hi Sam,\n\nI'd like to join your LinkedIn network.\n\nJane Doe\n"
        "Senior Product Lead at Foo Analytics\nSan Francisco Bay Area",
        "Jane Doe has invited you to connect\n\nJane Doe\nProduct Lead\n\n"
        '"I\'d like to join your LinkedIn network."',
        "Jane Doe has invited you to connect\n\nJane Doe\nProduct Lead\n\n"
        '"I\'d like to add you to my professional network on LinkedIn."',
        # older plain-text layouts set the footer off with a line of dots or bullets
        "Hi Sam,\n\nI'd like to join your LinkedIn network.\n\nJane Doe\nProduct Lead\n\n"
        "View profile: https://www.linkedin.com/comm/profile/view?id=1\n\n"
        "Accept: https://www.linkedin.com/comm/people/invite-accept?id=2\n\n" + "." * 37,
        "Jane Doe\nProduct Lead\n\n\u2022\u2022\u2022\u2022\u2022\u2022",
    ],
    ids=[
        "headline",
        "long-headline-location",
        "you-have-an-invitation",
        "default-text",
        "quoted-default-join",
        "quoted-default-add",
        "dotted-separator",
        "bullet-separator",
    ],
)
def test_linkedin_invitation_without_a_note_has_no_new_text(card: str) -> None:
    msg = parse_message(linkedin_invitation(card))
    assert msg.platform == "linkedin"
    assert msg.new_text == ""


def test_linkedin_footer_rewrapped_by_a_client_is_not_a_note() -> None:
    """Forwarding or format=flowed can wrap LinkedIn's long footer lines."""
    wrapped = LINKEDIN_FOOTER.replace(
        "LinkedIn and the LinkedIn logo", "LinkedIn and the\nLinkedIn logo"
    )
    card = "Jane Doe has invited you to connect\n\nJane Doe\nProduct Lead at Foo Analytics"
    raw = linkedin_invitation(card).replace(LINKEDIN_FOOTER.encode(), wrapped.encode())
    assert b"the\nLinkedIn logo" in raw
    assert parse_message(raw).new_text == ""


def test_linkedin_is_recognised_by_header_as_well_as_by_domain() -> None:
    raw = mail("From: Jane Doe <jane@example.com>\nX-LinkedIn-Id: 123\nSubject: s", f"“{NOTE}”")
    msg = parse_message(raw)
    assert msg.platform == "linkedin"
    assert msg.new_text == NOTE


def test_lookalike_domain_is_not_linkedin() -> None:
    msg = parse_message(
        mail("From: Jane <invitations@linkedin.com.evil.example>\nSubject: s", f"“{NOTE}”")
    )
    assert msg.platform == ""
