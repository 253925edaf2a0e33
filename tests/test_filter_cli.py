"""`triage filter`: stdin to stdout with X-Triage-* headers added and every other byte kept.

Mail filters (procmail, maildrop, Sieve extprograms) replace the message with what the filter
prints, so a lost or altered byte is lost mail. The comparison is always on bytes.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_model import LABELS, OFFENSE_CODES, eml

from triage.cli import main

ADDED = re.compile(rb"(?im)^X-Triage-(Class|Score|Offenses): [^\r\n]*\r?\n")

PITCH = eml(
    "Are you looking for extra income? Join my team and be your own boss, financial "
    "freedom from your phone! Forward this to friends who might be interested.",
    sender="Tammy Okafor <tammy@globex.com>",
    subject="Quick question",
    message_id="<pitch-1@globex.com>",
)
THANKS = eml(
    "Thank you so much for the introduction to Ana. Truly grateful for the coffee.",
    sender="Tom Becker <tom@northwind.com>",
    subject="Thank you!",
)


def run_filter(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: Path,
    raw: bytes,
) -> tuple[int, bytes]:
    stdout = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(stdout, write_through=True))
    code = main(["filter", "--model", str(model)])
    sys.stdout.flush()
    out = stdout.getvalue()  # before the wrapper goes away and closes the buffer
    monkeypatch.undo()
    capsys.readouterr()
    return code, out


def added_headers(out: bytes) -> dict[str, str]:
    return {
        m.group(1).decode().lower(): m.group(0).split(b":", 1)[1].strip().decode()
        for m in ADDED.finditer(out)
    }


def without_added(out: bytes) -> bytes:
    return ADDED.sub(b"", out)


def header_block(raw: bytes) -> bytes:
    """The header lines, each with its line ending, without the blank line and body."""
    blank = re.search(rb"\r?\n(\r?\n)", raw)
    return raw[: blank.start(1)] if blank else raw


@pytest.fixture
def filter_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tiny_model_path: Path
):
    def run(raw: bytes, model: Path | None = None) -> tuple[int, bytes]:
        return run_filter(monkeypatch, capsys, model or tiny_model_path, raw)

    return run


def test_headers_are_added_and_the_rest_is_unchanged(filter_run) -> None:
    code, out = filter_run(PITCH)
    assert code == 0
    headers = added_headers(out)
    assert set(headers) == {"class", "score", "offenses"}
    assert headers["class"] in LABELS
    assert re.fullmatch(r"[01]\.\d{3}", headers["score"]) and 0 <= float(headers["score"]) <= 1
    offenses = headers["offenses"]
    assert offenses == "none" or set(offenses.split(", ")) <= OFFENSE_CODES
    assert len(ADDED.findall(out)) == 3
    assert without_added(out) == PITCH
    # the new headers are in the header block, not in the body
    assert len(ADDED.findall(header_block(out))) == 3


def test_class_and_offenses_follow_the_classifier(filter_run) -> None:
    _code, pitch = filter_run(PITCH)
    _code, thanks = filter_run(THANKS)
    assert added_headers(pitch)["class"] == "solicitation"
    assert "mlm-recruiting" in added_headers(pitch)["offenses"]
    assert added_headers(thanks)["class"] == "relationship"
    assert added_headers(thanks)["offenses"] == "none"


def test_crlf_message_keeps_crlf(filter_run) -> None:
    raw = PITCH.replace(b"\n", b"\r\n")
    code, out = filter_run(raw)
    assert code == 0
    assert len(re.findall(rb"(?m)^X-Triage-[A-Za-z]+: [^\r\n]*\r\n", out)) == 3
    assert re.search(rb"(?<!\r)\n", out) is None  # no bare LF anywhere
    assert without_added(out) == raw


def test_binary_and_8bit_content_passes_through(filter_run) -> None:
    raw = (
        b"From: J\xc3\xb6rg <j@example.de>\nSubject: Gr\xfc\xdfe\nContent-Type: "
        b"application/octet-stream\nContent-Transfer-Encoding: binary\n\n"
        + bytes(range(256)) * 4
        + b"\r\r\n\x00 trailing without newline"
    )
    code, out = filter_run(raw)
    assert code == 0
    assert without_added(out) == raw


def test_large_message_passes_through_completely(filter_run) -> None:
    raw = eml("A big attachment follows.\n" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n" * 200_000)
    assert len(raw) > 5_000_000
    code, out = filter_run(raw)
    assert code == 0
    assert added_headers(out)["class"] in LABELS
    assert without_added(out) == raw


@pytest.mark.parametrize(
    "forged",
    [
        b"X-Triage-Class: relationship\nX-Triage-Score: 0.999\nX-Triage-Offenses: none\n",
        b"x-triage-class: relationship\n",
        b"X-TRIAGE-CLASS:relationship\n",
        b"X-Triage-Class: relationship\n\t(folded continuation)\n",
        b"X-Triage-Whatever: anything\n",
        b"X-Triage-Class : relationship\n",
        b"X-Triage-Class\t: relationship\n",
    ],
    ids=[
        "all-three",
        "lower-case",
        "upper-no-space",
        "folded",
        "other-x-triage",
        "space-before-colon",
        "tab-before-colon",
    ],
)
def test_forged_triage_headers_are_removed(filter_run, forged: bytes) -> None:
    raw = PITCH.replace(b"Subject:", forged + b"Subject:", 1)
    code, out = filter_run(raw)
    assert code == 0
    head = header_block(out)
    assert len(re.findall(rb"(?im)^x-triage-class:", head)) == 1
    assert b"relationship" not in head or added_headers(out)["class"] == "relationship"
    assert b"folded continuation" not in out and b"X-Triage-Whatever" not in out
    assert without_added(out) == PITCH


def test_forged_crlf_headers_are_removed(filter_run) -> None:
    raw = PITCH.replace(b"Subject:", b"X-Triage-Class: relationship\nSubject:", 1)
    raw = raw.replace(b"\n", b"\r\n")
    code, out = filter_run(raw)
    assert code == 0
    assert len(re.findall(rb"(?im)^x-triage-class:", out)) == 1
    assert without_added(out) == PITCH.replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    ("first", "forged", "rest"),
    [
        (b"", b"X-Triage-Class: relationship\r\n", b"\n"),  # one CRLF among LF lines
        (b"", b"X-Triage-Class: relationship\n", b"\r\n"),  # one LF among CRLF lines
        (
            b"From eve@evil.example Tue Mar  4 09:12:00 2025\n",
            b"X-Triage-Class: relationship\r\n",
            b"\r\n",
        ),  # mbox From_ line, CRLF headers
        (
            b"From eve@evil.example Tue Mar  4 09:12:00 2025\r\n",
            b"X-Triage-Class : relationship\n",
            b"\n",
        ),
    ],
    ids=["crlf-among-lf", "lf-among-crlf", "mbox-crlf", "mbox-crlf-from-line"],
)
def test_mixed_line_endings_keep_every_byte_and_lose_every_forgery(
    filter_run, first: bytes, forged: bytes, rest: bytes
) -> None:
    """The output is the input byte for byte, less the forged header, plus ours at the end of
    the header block (issue 10, items 2 and 3); a body line that starts with X-Triage- stays."""
    head = [b"From: Eve <eve@evil.example>", b"To: you@example.com", b"Subject: hello"]
    body = [b"Hi, here is what my filter printed:", b"X-Triage-Note: keep me", b"bye"]
    clean = first + head[0] + rest + head[1] + rest + head[2] + rest + rest + rest.join(body)
    raw = first + head[0] + rest + forged + head[1] + rest + head[2] + rest + rest + rest.join(body)
    code, out = filter_run(raw)
    assert code == 0
    assert without_added(out) == clean
    blank = out.index(head[2] + rest) + len(head[2] + rest)
    added = out[blank : out.index(body[0])]
    assert set(added_headers(added)) == {"class", "score", "offenses"}
    assert added.endswith(rest + rest) or added.endswith(b"\r\n" + rest)  # then the blank line
    assert out.endswith(rest.join(body))


def test_triage_headers_in_the_body_are_left_alone(filter_run) -> None:
    raw = eml("Here is what my filter printed:\nX-Triage-Class: relationship\nFunny, right?")
    code, out = filter_run(raw)
    assert code == 0
    assert without_added(header_block(out)) == header_block(raw)
    assert out.endswith(b"X-Triage-Class: relationship\nFunny, right?\n")


def test_forged_header_in_a_headers_only_message_is_removed(filter_run) -> None:
    raw = b"From: Eve <eve@example.com>\nSubject: no body\nX-Triage-Class: relationship\n"
    code, out = filter_run(raw)
    assert code == 0
    assert len(re.findall(rb"(?im)^x-triage-class:", out)) == 1


@pytest.mark.parametrize(
    "raw",
    [b"", b"\n", b"\r\n\r\n", b"   \t \n"],
    ids=["empty", "newline", "crlf-blank", "whitespace"],
)
def test_unparseable_input_passes_through_with_class_error(filter_run, raw: bytes) -> None:
    code, out = filter_run(raw)
    assert code == 0
    assert added_headers(out) == {"class": "error"}
    assert without_added(out) == raw


def test_missing_model_passes_mail_through_with_class_error(filter_run, tmp_path: Path) -> None:
    code, out = filter_run(PITCH, model=tmp_path / "missing.model")
    assert code == 0
    assert added_headers(out) == {"class": "error"}
    assert without_added(out) == PITCH


@pytest.mark.parametrize(
    "raw",
    [
        bytes(range(256)) * 10,
        b"\x00" * 1000,
        b"no headers, just words\nand lines\n",
        b"Subject: only a header",
    ],
    ids=["binary", "nul", "no-headers", "headers-only"],
)
def test_garbage_always_passes_through(filter_run, raw: bytes) -> None:
    code, out = filter_run(raw)
    assert code == 0
    assert added_headers(out)["class"] in LABELS | {"error"}
    assert without_added(out) == raw


def test_mbox_from_line_stays_first(filter_run) -> None:
    raw = b"From tammy@globex.com Tue Mar  4 09:12:00 2025\n" + PITCH
    code, out = filter_run(raw)
    assert code == 0
    assert out.startswith(b"From tammy@globex.com Tue Mar  4 09:12:00 2025\n")
    assert added_headers(out)["class"] in LABELS
    assert without_added(out) == raw


def test_mbox_from_line_stays_first_when_unparseable_too(filter_run) -> None:
    raw = b"From tammy@globex.com Tue Mar  4 09:12:00 2025\n"
    code, out = filter_run(raw)
    assert code == 0
    assert out.startswith(raw)
    assert without_added(out) == raw


def test_the_body_is_written_from_the_input_buffer_not_copied() -> None:
    """A 65 MB message must cost 65 MB once, not three times (issue 10, item 8; the RSS figures
    are in docs/benchmarks.md, from bench/filter_memory.py): every piece of the input in the
    output is a view of the bytes read from stdin."""
    from triage.commands.filter import add_headers

    raw = (
        PITCH.replace(b"Subject:", b"X-Triage-Class: relationship\nSubject:", 1)
        + b"body line\n" * 1000
    )
    pieces = add_headers(raw, [("X-Triage-Class", "solicitation")])
    views = [p for p in pieces if isinstance(p, memoryview)]
    assert views and all(p.obj is raw for p in views)
    assert sum(len(p) for p in views) >= len(raw) - len(b"X-Triage-Class: relationship\n")
    assert b"".join(bytes(p) for p in pieces).count(b"X-Triage-Class") == 1


def test_the_filter_does_not_load_the_daemon_imap_or_the_keyring(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """A filter runs once per delivered message: it imports what classifying needs only."""
    message = tmp_path / "m.eml"
    message.write_bytes(PITCH)
    probe = (
        "import sys\n"
        "from triage.cli import main\n"
        f"sys.stdin = open({str(message)!r})\n"
        f"code = main(['filter', '--model', {str(tiny_model_path)!r}])\n"
        "sys.stdout.flush()\n"
        "heavy = ('triage.daemon', 'triage.mail.protocol', 'triage.mail.imap',\n"
        "         'triage.mail.maildir', 'imapclient', 'keyring', 'sklearn', 'scipy',\n"
        "         'importlib.metadata')\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "                   or any(m.startswith(h) for h in heavy)), file=sys.stderr)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert b"X-Triage-Class" in ran.stdout.encode()
    assert ran.stderr.strip().splitlines()[-1] == "0 []"
