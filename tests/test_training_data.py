"""The labelled corpus in training_data/: the committed output is what build.py makes of the
sources, every message is a well-formed RFC 822 file, labels.csv is complete and consistent, every
subtype is represented, and no two hand-written bodies are near-duplicates (a model would learn
the template instead of the behaviour, and the evaluation split would leak)."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from email import message_from_bytes, policy
from itertools import combinations
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "training_data"
sys.path.insert(0, str(DATA))

import build  # noqa: E402
import sources  # noqa: E402

MIN_MESSAGES = 2000
MIN_PER_SUBTYPE = 10
MAX_JACCARD = 0.5
SHINGLE = 5
SHORT_WORDS = 12
THREADED = {"reply", "intro-followup"}


@pytest.fixture(scope="module")
def records() -> list[sources.Record]:
    found, problems = sources.read_records()
    assert not problems, "source problems:\n" + "\n".join(problems)
    return found


@pytest.fixture(scope="module")
def parsed(records):
    """Record id -> the committed message, parsed the way a reader of the corpus would."""
    return {
        r.id: message_from_bytes(
            (DATA / "messages" / f"{r.id}.eml").read_bytes(), policy=policy.default
        )
        for r in records
        if (DATA / "messages" / f"{r.id}.eml").exists()
    }


def test_committed_output_is_what_build_makes_of_the_sources(records):
    wanted, have = build.build(records), build.committed()
    missing = sorted(wanted.keys() - have.keys())
    stale = sorted(have.keys() - wanted.keys())
    changed = sorted(k for k in wanted.keys() & have.keys() if wanted[k] != have[k])
    assert not (missing or stale or changed), (
        f"run `python training_data/build.py`: {len(missing)} missing {missing[:5]}, "
        f"{len(stale)} stale {stale[:5]}, {len(changed)} out of date {changed[:5]}"
    )


def test_build_does_not_depend_on_the_process(records):
    """A fresh interpreter with another hash seed, locale and time zone builds the same bytes."""
    sample = [r.id for r in records[:: max(1, len(records) // 60)]]
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import build, sources, hashlib\n"
        "recs = {r.id: r for r in sources.read_records()[0]}\n"
        "for rid in sys.argv[2:]:\n"
        "    print(rid, hashlib.sha256(build.build_message(recs[rid])).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "LC_ALL": "C", "TZ": "Pacific/Auckland"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(DATA), *sample],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    ours = {
        rid: hashlib.sha256(
            build.build_message(next(r for r in records if r.id == rid))
        ).hexdigest()
        for rid in sample
    }
    assert dict(zip(out[::2], out[1::2], strict=True)) == ours


def test_every_message_parses_with_the_headers_its_channel_needs(records, parsed):
    assert len(parsed) == len(records)
    problems = []
    for r in records:
        msg = parsed[r.id]
        missing = [h for h in ("From", "To", "Date", "Message-ID", "Subject") if msg[h] is None]
        if r.channel in THREADED:
            missing += [h for h in ("In-Reply-To", "References") if msg[h] is None]
        if r.channel == "bulk" and msg["List-Id"] is None and msg["List-Unsubscribe"] is None:
            missing.append("List-Id or List-Unsubscribe")
        if missing:
            problems.append(f"{r.id}: no {', '.join(missing)}")
        if msg["Date"] is not None and msg["Date"].datetime is None:
            problems.append(f"{r.id}: unparseable Date {msg['Date']!r}")
        defects = [d for part in msg.walk() for d in part.defects]
        if defects:
            problems.append(f"{r.id}: parser defects {defects}")
        body = msg.get_body(("plain", "html"))
        if body is None:
            problems.append(f"{r.id}: no text/plain or text/html body")
        elif re.search(r"\{reader(_full|_company)?\}", body.get_content()):
            problems.append(f"{r.id}: placeholder left in the body")
    assert not problems, "\n".join(problems[:40])


def test_labels_csv_lists_every_message_once_with_a_valid_label(records):
    with (DATA / "labels.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    paths = [row["path"] for row in rows]
    assert paths == sorted(paths), "labels.csv is not sorted by path"
    duplicated = [p for p, n in Counter(paths).items() if n > 1]
    assert not duplicated, f"listed more than once: {duplicated}"
    on_disk = {f"messages/{p.name}" for p in (DATA / "messages").glob("*.eml")}
    assert set(paths) == on_disk, (
        f"not in labels.csv: {sorted(on_disk - set(paths))[:10]}; "
        f"no such file: {sorted(set(paths) - on_disk)[:10]}"
    )
    by_id = {r.id: r for r in records}
    problems = []
    for row in rows:
        rec = by_id.get(Path(row["path"]).stem)
        offenses = row["offenses"].split(";") if row["offenses"] else []
        if row["label"] not in sources.LABELS:
            problems.append(f"{row['path']}: label {row['label']!r}")
        if offenses and row["label"] != "solicitation":
            problems.append(f"{row['path']}: offenses on a {row['label']} message")
        if any(o not in sources.OFFENSES for o in offenses):
            problems.append(f"{row['path']}: unknown offense in {offenses}")
        if row["subtype"] not in sources.SUBTYPES.get(row["label"], ()):
            problems.append(f"{row['path']}: subtype {row['subtype']!r} under {row['label']}")
        if rec is None or (rec.label, list(rec.offenses), rec.subtype) != (
            row["label"],
            offenses,
            row["subtype"],
        ):
            problems.append(f"{row['path']}: does not match its source record")
    assert not problems, "\n".join(problems[:40])


def test_corpus_is_big_enough_and_covers_every_subtype(records):
    counts = Counter(r.subtype for r in records)
    short = {
        subtype: counts[subtype]
        for label in sources.LABELS
        for subtype in sources.SUBTYPES[label]
        if counts[subtype] < MIN_PER_SUBTYPE
    }
    assert len(records) >= MIN_MESSAGES and not short, (
        f"{len(records)} messages (need {MIN_MESSAGES}); subtypes with fewer than "
        f"{MIN_PER_SUBTYPE}: " + ", ".join(f"{s} ({n})" for s, n in sorted(short.items()))
    )


def test_mime_structure_is_not_a_proxy_for_the_label(records, parsed):
    """Within personal mail, plain vs. multipart follows the sender's client, not the label."""
    plain, total = Counter(), Counter()
    for r in records:
        if r.channel in ("email", "reply", "intro", "intro-followup"):
            total[r.label] += 1
            plain[r.label] += parsed[r.id].get_content_type() == "text/plain"
    shares = {label: plain[label] / total[label] for label in total if total[label] >= 50}
    assert max(shares.values()) - min(shares.values()) < 0.15, shares


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def near_duplicates(bodies: dict[str, str]) -> list[tuple[float, str, str]]:
    """Pairs of bodies whose word 5-gram sets have Jaccard similarity above MAX_JACCARD.

    An inverted index from shingle to bodies counts the shingles each pair shares, so only pairs
    with something in common are looked at. Bodies under SHORT_WORDS words have too few shingles
    to compare that way; they count as duplicates only when their normalised text is equal."""
    shingles: dict[str, set[str]] = {}
    short: dict[str, list[str]] = defaultdict(list)
    for rid, text in bodies.items():
        words = _words(text)
        if len(words) < SHORT_WORDS:
            if words:
                short[" ".join(words)].append(rid)
            continue
        shingles[rid] = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    index: dict[str, list[str]] = defaultdict(list)
    for rid, grams in shingles.items():
        for gram in grams:
            index[gram].append(rid)
    shared: Counter[tuple[str, str]] = Counter()
    for ids in index.values():
        if len(ids) > 1:
            shared.update(combinations(sorted(ids), 2))
    found = []
    for (a, b), common in shared.items():
        score = common / (len(shingles[a]) + len(shingles[b]) - common)
        if score > MAX_JACCARD:
            found.append((score, a, b))
    for ids in short.values():
        found += [(1.0, a, b) for a, b in combinations(sorted(ids), 2)]
    return sorted(found, reverse=True)


def test_near_duplicate_detection_works():
    base = (
        "thanks so much for the introduction to Marcus last week, I read his two posts about "
        "warehouse robotics and we are meeting on Thursday for coffee near the station"
    )
    bodies = {
        "a": base,
        "b": base.replace("Thursday", "Friday"),
        "c": "a completely different message about the quarterly budget review and travel "
        "submissions that team leads should bring to the meeting with justification",
        "d": "Thanks!!",
        "e": "thanks",
        "f": "see you soon",
    }
    assert {(a, b) for _, a, b in near_duplicates(bodies)} == {("a", "b"), ("d", "e")}


def test_no_two_hand_written_bodies_are_near_duplicates(records):
    pairs = near_duplicates({r.id: r.body for r in records})
    assert not pairs, (
        f"{len(pairs)} near-duplicate pairs (word {SHINGLE}-gram Jaccard > "
        f"{MAX_JACCARD}):\n" + "\n".join(f"  {score:.2f}  {a}  {b}" for score, a, b in pairs)
    )
