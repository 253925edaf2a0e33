"""Read and validate the hand-written source records in `training_data/source/*.txt`.

The format is described in `training_data/README.md`. Run this file to check every source:
`python training_data/sources.py` prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# The offense codes are the product's own: read them from the package in this checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from triage.decide.offenses import OFFENSES  # noqa: E402

SOURCE_DIR = Path(__file__).resolve().parent / "source"

LABELS = ("relationship", "solicitation", "other")
CHANNELS = (
    "email",
    "reply",
    "intro",
    "intro-followup",
    "linkedin-invite",
    "linkedin-message",
    "sequence",
    "bulk",
    "notification",
    "receipt",
    "calendar",
    "list",
)
SUBTYPES = {
    "relationship": (
        "thank-you",
        "congratulations",
        "check-in",
        "resource-share",
        "reconnect",
        "double-opt-in-intro",
        "intro-followup-good",
        "invite-with-note",
        "warm-cold-note",
        "favor-from-friend",
        "advice-ask-good",
        "mentoring",
        "referral-offer",
        "event-followup",
        "fan-mail",
        "support-note",
        "intro-offer",
        "referral-heads-up",
        "welcome-reply",
    ),
    "solicitation": (
        "sales-pitch",
        "sales-sequence",
        "bump-followup",
        "canned-connection",
        "invite-pitch",
        "invite-no-note",
        "recruiter",
        "recruiter-personal",
        "podcast-pitch",
        "guest-post-pitch",
        "job-seeker-ask",
        "intro-ask",
        "network-harvest",
        "referral-bounty",
        "mlm",
        "mlm-disguised",
        "intro-followup-bad",
        "pitch-on-intro",
        "investment-pitch",
        "agency-pitch",
        "listing-pitch",
        "partnership-pitch",
        "student-ask",
    ),
    "other": (
        "work-thread",
        "family",
        "friends-social",
        "receipt",
        "shipping",
        "service-notification",
        "security-alert",
        "newsletter",
        "calendar-invite",
        "mailing-list",
        "event-logistics",
        "networking-event-internal",
        "school",
        "medical-appointment",
        "bill",
        "travel",
        "support-ticket",
        "hr-internal",
        "platform-digest",
        "job-application",
        "community-post",
        "agency-client",
    ),
}
KNOWN_KEYS = {
    "label",
    "offenses",
    "subtype",
    "channel",
    "from",
    "from_addr",
    "subject",
    "introducer",
    "cc",
}
REQUIRED_KEYS = ("label", "subtype", "channel", "from", "subject")
PLACEHOLDER = re.compile(r"\{(reader|reader_full|reader_company)\}")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Record:
    """One hand-written message before `build.py` dresses it as an RFC 822 file."""

    id: str
    source: str  # file name and line, for error messages
    fields: dict[str, str]
    body: str
    quoted: str = ""
    offenses: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return self.fields["label"]

    @property
    def subtype(self) -> str:
        return self.fields["subtype"]

    @property
    def channel(self) -> str:
        return self.fields["channel"]


def _parse_file(path: Path) -> tuple[list[Record], list[str]]:
    records: list[Record] = []
    problems: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("=== ")]
    if (
        lines
        and lines[0].strip()
        and not starts
        or (starts and any(ln.strip() for ln in lines[: starts[0]]))
    ):
        problems.append(f"{path.name}:1: text before the first '=== id' line")
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        where = f"{path.name}:{start + 1}"
        rec_id = lines[start][4:].strip()
        if rec_id.startswith("id:"):
            rec_id = rec_id[3:].strip()
        chunk = lines[start + 1 : end]
        try:
            sep = chunk.index("---")
        except ValueError:
            problems.append(f"{where}: record {rec_id!r} has no '---' line before its body")
            continue
        fields: dict[str, str] = {}
        for offset, line in enumerate(chunk[:sep]):
            if not line.strip():
                continue
            key, colon, value = line.partition(":")
            key = key.strip().lower()
            if not colon:
                problems.append(f"{path.name}:{start + 2 + offset}: not a 'key: value' line")
                continue
            fields[key] = value.strip()
        rest = chunk[sep + 1 :]
        quoted = ""
        if "--- quoted" in rest:
            q = rest.index("--- quoted")
            quoted = "\n".join(rest[q + 1 :]).strip("\n")
            rest = rest[:q]
        body = "\n".join(rest).strip("\n")
        offenses = tuple(fields.get("offenses", "").split())
        records.append(Record(rec_id, where, fields, body, quoted, offenses))
    return records, problems


def _validate(record: Record) -> list[str]:
    where, f = record.source, record.fields
    problems = []
    if not ID_PATTERN.match(record.id):
        problems.append(f"{where}: id {record.id!r} must be lower case letters, digits, dashes")
    for key in REQUIRED_KEYS:
        if key not in f:
            problems.append(f"{where}: {record.id}: missing '{key}:'")
    for key in f.keys() - KNOWN_KEYS:
        problems.append(f"{where}: {record.id}: unknown key {key!r}")
    label = f.get("label", "")
    if label not in LABELS:
        problems.append(f"{where}: {record.id}: label {label!r} is not one of {LABELS}")
    elif f.get("subtype") not in SUBTYPES[label]:
        problems.append(
            f"{where}: {record.id}: subtype {f.get('subtype')!r} is not a {label} subtype"
        )
    if f.get("channel") not in CHANNELS:
        problems.append(f"{where}: {record.id}: channel {f.get('channel')!r} is unknown")
    for code in record.offenses:
        if code not in OFFENSES:
            problems.append(f"{where}: {record.id}: offense {code!r} is unknown")
    if record.offenses and label != "solicitation":
        problems.append(f"{where}: {record.id}: offenses only go on solicitation")
    if not record.body.strip() and f.get("subtype") != "invite-no-note":
        problems.append(f"{where}: {record.id}: empty body")
    for match in re.finditer(r"\{([a-z_]+)\}", record.body + record.quoted):
        if match.group(1).startswith("reader") and not PLACEHOLDER.fullmatch(match.group(0)):
            problems.append(f"{where}: {record.id}: unknown placeholder {match.group(0)}")
    return problems


def read_records(source_dir: Path = SOURCE_DIR) -> tuple[list[Record], list[str]]:
    """All records in file-name order, and a list of problems (empty when all is well)."""
    records: list[Record] = []
    problems: list[str] = []
    for path in sorted(source_dir.glob("*.txt")):
        file_records, file_problems = _parse_file(path)
        records += file_records
        problems += file_problems
    seen: dict[str, str] = {}
    for record in records:
        problems += _validate(record)
        if record.id in seen:
            problems.append(
                f"{record.source}: duplicate id {record.id!r} (first at {seen[record.id]})"
            )
        seen.setdefault(record.id, record.source)
    return records, problems


def main() -> int:
    records, problems = read_records()
    for problem in problems:
        print(problem)
    counts: dict[str, int] = {}
    for record in records:
        counts[record.label] = counts.get(record.label, 0) + 1
    print(f"{len(records)} records: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
