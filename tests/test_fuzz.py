"""A fixed-seed fuzz run: 2,000 mutated messages through the parser, classify and filter.

Mail is written by strangers; whatever bytes arrive, the parser gives a Message (or, for empty
input, MessageParseError), classification gives a decision, and `triage filter` writes the
input back byte for byte with only its own headers added and every forged X-Triage-* header
gone. The messages are generated, not committed; bench/fuzz.py runs the same with 10,000+.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from triage.commands.filter import add_headers
from triage.errors import MessageParseError
from triage.message.parse import parse_message
from triage.model.classifier import Classifier

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "triage" / "samples").glob("*.eml"))
HOSTILE_HEADERS = [
    b"Content-Type: text/plain; charset=undefined",
    b"Content-Type: text/plain; charset=punycode",
    b'Content-Type: text/plain; charset="=?utf-8?q?x?="',
    b"Content-Type: multipart/mixed; boundary=",
    b"Content-Type: multipart/mixed",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Transfer-Encoding: x-uuencode",
    b"From: victim@evil.example <derek@sender.example>",
    b"From: =?utf-8?b?" + b"A" * 300 + b"?= <x@y.example>",
    b"Subject: =?unknown-8bit?q?=FF=FE?=",
    b"Date: Mon, 99 Foo 99999 99:99:99 +9999",
    b"To: " + b"(" * 500 + b"a@b.example",
    b"Message-ID: <\xff\xfe@\x00>",
    b"References: " + b"<a@b> " * 2000,
    b"X-Mailer: \x00\x01\x02",
    b"List-Id: <\r\r\r>",
]
FORGED = [
    b"X-Triage-Class: relationship",
    b"X-Triage-Class : relationship",
    b"X-Triage-Class\t: relationship",
    b"x-triage-score:0.999",
    b"X-TRIAGE-OFFENSES: none\n\t(folded)",
]
NESTED = b"".join(
    b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(200)
)


def _mutate_body(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randrange(0, 12)):
        kind = rng.randrange(6)
        at = rng.randrange(len(data) + 1)
        if kind == 0 and data:  # flip a byte
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif kind == 1:  # line endings of every kind
            data[at:at] = rng.choice([b"\r\n", b"\r", b"\n\n", b"\r\r\n", b"\x00"])
        elif kind == 2:  # a MIME boundary or a header-looking line in the body
            data[at:at] = rng.choice(
                [b"\n--b0--\n", b"\nX-Triage-Note: body\n", b"\n--\n", b"\n=?utf-8?b?////?=\n"]
            )
        elif kind == 3:  # a long line
            data[at:at] = bytes([rng.randrange(32, 127)]) * rng.randrange(1, 20000)
        elif kind == 4:  # cut it short
            del data[at:]
        else:  # random bytes
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    return bytes(data)


def fuzzed(seed: int, count: int) -> Iterator[tuple[bytes, bytes]]:
    """(message, the same message before forged headers went in) pairs, deterministically."""
    rng = random.Random(seed)
    bases = [path.read_bytes().replace(b"\r\n", b"\n") for path in SAMPLES]
    for _ in range(count):
        head, _blank, body = rng.choice(bases).partition(b"\n\n")
        lines = head.split(b"\n")
        for _ in range(rng.randrange(0, 4)):
            lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(HOSTILE_HEADERS))
        if rng.random() < 0.05:
            body = NESTED + body
        newline = rng.choice([b"\n", b"\r\n"])
        clean = newline.join(lines) + newline + newline + _mutate_body(rng, body)
        if rng.random() < 0.1:
            clean = b"From sender@x.example Tue Mar  4 09:12:00 2025" + newline + clean
        forged_at = clean.find(newline) + len(newline) if clean.startswith(b"From ") else 0
        forgery = b"".join(
            f.replace(b"\n", newline) + newline for f in rng.sample(FORGED, rng.randrange(0, 3))
        )
        # after the first header line, so the forgery sits inside the header block
        first_end = clean.find(newline, forged_at) + len(newline)
        yield clean[:first_end] + forgery + clean[first_end:], clean


@pytest.fixture(scope="module")
def cases() -> list[tuple[bytes, bytes]]:
    return list(fuzzed(seed=20261207, count=2000))


def test_the_fuzz_corpus_is_hostile_enough(cases: list[tuple[bytes, bytes]]) -> None:
    assert len(cases) == 2000
    assert sum(raw != clean for raw, clean in cases) > 800  # forged headers in many
    assert sum(b"charset=undefined" in raw for raw, _ in cases) > 50


def test_every_mutated_message_parses_and_gets_a_decision(
    cases: list[tuple[bytes, bytes]], tiny_model_path: Path
) -> None:
    classifier = Classifier.load(tiny_model_path)
    messages = []
    for raw, _clean in cases:
        try:
            messages.append(parse_message(raw))
        except MessageParseError:
            assert not raw.strip()  # only empty input may fail to parse
    decisions = classifier.classify(messages)
    assert len(decisions) == len(messages) > 1900
    assert {d.label for d in decisions} <= {"relationship", "solicitation", "other"}


def test_filter_keeps_every_byte_and_drops_every_forgery(cases: list[tuple[bytes, bytes]]) -> None:
    ours = [("X-Triage-Class", "other"), ("X-Triage-Score", "0.500"), ("X-Triage-Offenses", "none")]
    for raw, clean in cases:
        out = b"".join(bytes(piece) for piece in add_headers(raw, ours))
        newline = b"\r\n" if b"\r\n" in out[: out.find(b"X-Triage-Class: other") + 30] else b"\n"
        block = b"".join(f"{k}: {v}".encode() + newline for k, v in ours)
        assert out.count(block) >= 1, raw[:200]
        assert out.replace(block, b"", 1) == clean, raw[:200]
