"""`triage classify` through `triage.cli.main`: every input kind, the JSON contract, the table.

A tiny model trained on synthetic mail stands in for the shipped one: these tests are about the
command, not about accuracy.
"""

from __future__ import annotations

import io
import json
import mailbox
import sys
from pathlib import Path

import pytest
from tiny_model import LABELS, OFFENSE_CODES, eml

from triage.cli import main
from triage.commands.classify import BATCH
from triage.message.parse import parse_message

THANKS = eml(
    "Thank you so much for the introduction to Ana. We had coffee on Tuesday and it was "
    "the most useful conversation I have had about hiring in months. Truly grateful.",
    sender="Tom Becker <tom@northwind.com>",
    subject="Thank you!",
    message_id="<thanks-1@northwind.com>",
)
PITCH = eml(
    "Are you looking for extra income? Join my team and be your own boss, financial "
    "freedom from your phone! Forward this to friends who might be interested.",
    sender="Tammy Okafor <tammy@globex.com>",
    subject="Quick question",
    message_id="<pitch-1@globex.com>",
)
RECEIPT = eml(
    "Your order #4417 has shipped and will arrive on Friday. Track your package in "
    "your account. This is an automated message, do not reply.",
    sender="Shop <no-reply@shop.example>",
    subject="Your order has shipped",
    message_id="<receipt-1@shop.example>",
)


def run(capsys: pytest.CaptureFixture[str], model: Path, *args: str) -> tuple[int, str, str]:
    code = main(["classify", "--model", str(model), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def write(path: Path, raw: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return path


# ----------------------------------------------------------------------------- JSON contract


def test_json_fields_for_one_eml(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "pitch.eml", PITCH)
    code, out, err = run(capsys, tiny_model_path, "--json", str(path))
    assert code == 0, err
    [record] = records(out)
    assert record["path"] == str(path)
    assert record["message_id"] == "<pitch-1@globex.com>"
    assert record["label"] in LABELS
    assert isinstance(record["confidence"], float) and 0 <= record["confidence"] <= 1
    assert set(record["scores"]) == LABELS
    assert all(0 <= v <= 1 for v in record["scores"].values())
    assert sum(record["scores"].values()) == pytest.approx(1, abs=1e-3)
    assert record["confidence"] == pytest.approx(max(record["scores"].values()), abs=1e-4)
    assert record["scores"][record["label"]] == max(record["scores"].values())
    assert isinstance(record["offenses"], list) and set(record["offenses"]) <= OFFENSE_CODES
    assert isinstance(record["draft"], bool)
    assert isinstance(record["reasons"], list) and all(
        isinstance(r, str) and r for r in record["reasons"]
    )


def test_json_labels_follow_the_model(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [
        write(tmp_path / f"{name}.eml", raw)
        for name, raw in (("a-thanks", THANKS), ("b-pitch", PITCH), ("c-receipt", RECEIPT))
    ]
    code, out, _err = run(capsys, tiny_model_path, "--json", *map(str, paths))
    assert code == 0
    by_id = {r["message_id"]: r for r in records(out)}
    assert by_id["<thanks-1@northwind.com>"]["label"] == "relationship"
    assert by_id["<receipt-1@shop.example>"]["label"] == "other"
    pitch = by_id["<pitch-1@globex.com>"]
    assert pitch["label"] == "solicitation"
    assert "mlm-recruiting" in pitch["offenses"]
    assert pitch["draft"] is True  # a personal sender, a named offense, a confident model
    assert by_id["<thanks-1@northwind.com>"]["draft"] is False
    assert by_id["<thanks-1@northwind.com>"]["offenses"] == []


def test_json_is_one_valid_object_per_line_with_non_ascii(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = eml(
        'Grüße aus Köln! Danke für alles 🎉\nLine two "quoted" \\ backslash',
        subject="=?utf-8?q?Gr=C3=BC=C3=9Fe_=E2=80=A8_und_Dank?=",
    )
    path = write(tmp_path / "umlaut.eml", raw)
    code, out, _err = run(capsys, tiny_model_path, "--json", str(path))
    assert code == 0
    assert len(out.splitlines()) == 1
    assert records(out)[0]["subject"].startswith("Grüße")


def test_json_explain_adds_weighted_evidence(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "pitch.eml", PITCH)
    code, out, _err = run(capsys, tiny_model_path, "--json", "--explain", str(path))
    assert code == 0
    [record] = records(out)
    evidence = record["evidence"]
    assert evidence, "a confident decision has evidence"
    weights = [e["weight"] for e in evidence]
    assert all(w > 0 for w in weights) and weights == sorted(weights, reverse=True)
    assert all(":" in e["feature"] and not e["feature"].startswith("chars:") for e in evidence)


# ------------------------------------------------------------------------------ input kinds


def test_directory_is_read_recursively(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "mail"
    expected = {
        write(root / "top.eml", THANKS),
        write(root / "a" / "b" / "deep.EML", PITCH),
        write(root / "a" / "receipt.eml", RECEIPT),
        write(root / "Maildir" / "cur" / "1700000000.M1P1.host:2,S", THANKS),
        write(root / "Maildir" / "new" / "1700000001.M2P2.host", PITCH),
    }
    write(root / "notes.txt", b"not mail")
    write(root / "a" / "image.png", b"\x89PNG")
    code, out, err = run(capsys, tiny_model_path, "--json", str(root))
    assert code == 0, err
    found = [r["path"] for r in records(out)]
    assert sorted(found) == sorted(map(str, expected))
    assert found == sorted(found)  # a stable order


def test_mbox_file(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(path)
    ids = []
    for i, raw in enumerate((THANKS, PITCH, RECEIPT)):
        raw = raw.replace(b"Message-ID: <", f"Message-ID: <mbox{i}-".encode())
        raw = raw.replace(b"\n\n", b"\n\nFrom the desk of the sender: a body line.\n", 1)
        box.add(mailbox.mboxMessage(raw))
        ids.append(raw.split(b"Message-ID: ")[1].split(b"\n")[0].decode())
    box.flush()
    box.close()
    code, out, err = run(capsys, tiny_model_path, "--json", str(path))
    assert code == 0, err
    found = records(out)
    assert [r["path"] for r in found] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    assert [r["message_id"] for r in found] == ids


def test_stdin(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PITCH)))
    code, out, err = run(capsys, tiny_model_path, "--json", "-")
    assert code == 0, err
    [record] = records(out)
    assert record["path"] == "-"
    assert record["message_id"] == "<pitch-1@globex.com>"


def test_stdin_crlf_and_file_agree(
    tiny_model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PITCH.replace(b"\n", b"\r\n"))))
    path = write(tmp_path / "pitch.eml", PITCH)
    code, out, _err = run(capsys, tiny_model_path, "--json", "-", str(path))
    assert code == 0
    from_stdin, from_file = records(out)
    for key in ("label", "scores", "offenses", "draft", "message_id", "subject"):
        assert from_stdin[key] == from_file[key], key


def test_output_keeps_input_order_across_batches(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """More than one batch, with an unparseable message in the middle."""
    count = BATCH + 20
    broken = BATCH - 3
    for i in range(count):
        raw = (
            b"\n\n"
            if i == broken
            else eml(f"Message number {i}, thanks!", message_id=f"<n{i}@example.com>")
        )
        write(tmp_path / "many" / f"{i:04d}.eml", raw)
    code, out, _err = run(capsys, tiny_model_path, "--json", str(tmp_path / "many"))
    assert code != 0  # one message could not be classified
    found = records(out)
    assert len(found) == count
    assert found[broken]["label"] == "error" and found[broken]["error"]
    assert [r.get("message_id") for i, r in enumerate(found) if i != broken] == [
        f"<n{i}@example.com>" for i in range(count) if i != broken
    ]


# ------------------------------------------------------------------------------------ errors


def test_nonexistent_path_is_one_line_error(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.eml"
    code, out, err = run(capsys, tiny_model_path, str(missing))
    assert code != 0
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and str(missing) in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("files", [[], ["notes.txt", "photo.jpg"]], ids=["empty", "no-mail"])
def test_a_directory_without_mail_says_what_classify_reads(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], files: list[str]
) -> None:
    """Issue 13, item 1: not silence and exit 0, but one line naming what a PATH may be."""
    for name in files:
        (tmp_path / name).write_bytes(b"not mail")
    code, out, err = run(capsys, tiny_model_path, str(tmp_path))
    assert code == 1 and out == ""
    assert f"no message found in {tmp_path}" in err
    assert ".eml" in err and "mbox" in err and "Maildir" in err


def test_nonexistent_path_after_a_good_one(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "good.eml", THANKS)
    code, _out, err = run(capsys, tiny_model_path, "--json", str(good), str(tmp_path / "nope"))
    assert code != 0
    assert str(tmp_path / "nope") in err and "Traceback" not in err


@pytest.mark.parametrize("content", [b"", b"\n\n\n", b"   "])
def test_empty_file_is_reported_and_the_rest_classified(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    empty = write(tmp_path / "a-empty.eml", content)
    good = write(tmp_path / "b-good.eml", THANKS)
    code, out, err = run(capsys, tiny_model_path, "--json", str(empty), str(good))
    assert code != 0
    first, second = records(out)
    assert first == {"path": str(empty), "label": "error", "error": first["error"]}
    assert first["error"]
    assert second["path"] == str(good) and second["label"] in LABELS
    assert "Traceback" not in err
    # one error format for every command: triage: PATH: what is wrong (issue 13, item 9)
    assert f"triage: {empty}: empty message" in err.splitlines()
    assert main(["explain", "--model", str(tiny_model_path), str(empty)]) == 1
    assert f"triage: {empty}: empty message" in capsys.readouterr().err.splitlines()


def test_hostile_files_do_not_crash(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = {
        "binary.eml": bytes(range(256)) * 40,
        "nul.eml": b"\x00" * 5000,
        "headers-only.eml": b"Subject: only headers",
        "html-bomb.eml": b"Content-Type: text/html\n\n" + b"<blockquote>" * 20_000,
        "deep.eml": b"".join(
            b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(2000)
        ),
        "big.eml": eml("x " * 1_500_000),
    }
    for name, raw in hostile.items():
        write(tmp_path / "hostile" / name, raw)
    code, out, err = run(capsys, tiny_model_path, "--json", str(tmp_path / "hostile"))
    assert "Traceback" not in err
    found = records(out)
    assert len(found) == len(hostile)
    assert all(r["label"] in LABELS | {"error"} for r in found)
    assert code == (1 if any(r["label"] == "error" for r in found) else 0)


def test_missing_model_names_triage_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "good.eml", THANKS)
    code, out, err = run(capsys, tmp_path / "no.model", str(good))
    assert code != 0 and out == ""
    assert "triage train" in err and "Traceback" not in err


# ------------------------------------------------------------------------- human output


def test_human_table(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [
        write(tmp_path / f"{n}.eml", raw)
        for n, raw in (("1", THANKS), ("2", PITCH), ("3", RECEIPT))
    ]
    code, out, _err = run(capsys, tiny_model_path, *map(str, paths))
    assert code == 0
    lines = out.rstrip("\n").split("\n")
    assert lines[0].split() == ["sender", "subject", "class", "conf", "main", "reasons", "draft"]
    assert set(lines[1]) <= {"-", " "}
    rows = lines[2:]
    assert len(rows) == 3
    for row, sender, subject in zip(
        rows,
        ("Tom Becker", "Tammy Okafor", "Shop"),
        ("Thank you!", "Quick question", "Your order has shipped"),
        strict=True,
    ):
        assert row.startswith(sender)
        assert subject in row
        assert any(label in row.split() for label in LABELS)
    code, json_out, _err = run(capsys, tiny_model_path, "--json", *map(str, paths))
    for row, record in zip(rows, records(json_out), strict=True):
        assert f" {record['label']} " in row
        assert f"{record['confidence']:.2f}" in row
        assert row.rstrip().endswith("yes" if record["draft"] else "-")


def test_human_explain(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "pitch.eml", PITCH)
    code, out, _err = run(capsys, tiny_model_path, "--explain", str(path))
    assert code == 0
    lines = out.rstrip("\n").split("\n")
    assert lines[0] == str(path)
    label, confidence = lines[1].split()
    assert label in LABELS and 0 <= float(confidence.strip("()")) <= 1
    assert len(lines) > 2 and all(line.startswith("  - ") for line in lines[2:])
    code, json_out, _err = run(capsys, tiny_model_path, "--json", str(path))
    [record] = records(json_out)
    assert [line[4:] for line in lines[2:]] == record["reasons"]


def test_explain_cuts_a_long_platform_note_at_a_word(
    tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13, item 12: the quoted LinkedIn note was cut mid-word at 160 characters."""
    sample = (
        Path(__file__).resolve().parent.parent / "triage" / "samples" / "10-linkedin-invitation.eml"
    )
    assert main(["explain", "--model", str(tiny_model_path), str(sample)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "personal note" in x)
    quoted = line.split(': "', 1)[1].rstrip('"')
    assert quoted.endswith(" ...")
    full = " ".join(parse_message(sample.read_bytes()).new_text.split())
    kept = quoted[: -len(" ...")]
    assert full.startswith(kept) and full[len(kept)] == " "


def test_directories_are_listed_in_sorted_path_order(tmp_path: Path) -> None:
    from triage.commands.inputs import files_under

    for name in ("b/x.eml", "a-c.eml", "a/b.eml", "a/a/z.eml", "x", "x.d/y.eml", "cur/1:2,S"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"Subject: s\n\nbody\n")
    expected = [p for p in sorted(tmp_path.rglob("*")) if p.is_file()]
    assert list(files_under(tmp_path)) == expected
