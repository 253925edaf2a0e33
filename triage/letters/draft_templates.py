"""The wording of feedback drafts as files: which parts exist, how they are read, overridden and
filled. Pure text.

The wording lives in `triage/templates/*.txt` (shipped with the package), one file per part,
variants separated by a line of three dashes, `#` lines being comments. A user overrides any
part by putting a file with the same name in `<config dir>/templates/`; a file that cannot be
used is skipped with a warning, never stopping a draft.

Templates are filled with `safe_format`: `{name}` placeholders only, no attribute or index
access, no conversions or format specs (all left as literal text), unknown names left as is.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from triage.decide.policy import OFFENSE_NAMES

log = logging.getLogger(__name__)

MAX_TEMPLATE_BYTES = 16_000
OFFENSES: tuple[str, ...] = tuple(OFFENSE_NAMES)

# Every file a user may put in <config dir>/templates/, without ".txt".
PART_NAMES: tuple[str, ...] = (
    "opening",
    "opening-introducer",
    "opening-reply",
    # openings that begin with what is good in the message, or meet the sender where they are
    "opening-event",
    "opening-acquaintance",
    "opening-answer",
    "opening-introduced",
    "opening-job-loss",
    "opening-newcomer",
    "opening-kind-words",
    "opening-your-work",
    "opening-mutual",
    "opening-student",
    "opening-template",
    "what-you-wrote",
    "what-you-asked",
    # advice that fits the situation rather than the offense
    "client-suggestion",
    "event-suggestion",
    "acquaintance-suggestion",
    "introduced-suggestion",
    "thread-suggestion",
    "jobseeker-suggestion",
    "student-suggestion",
    "template-suggestion",
    "decline-meeting",
    # a plain no to the ask itself, when no meeting was proposed (see draft_text.DECLINES)
    "decline-introduction",
    "decline-forwarding",
    "decline-reward",
    "decline-joining",
    "privacy-note",
    "money-note",
    "layoff-note",
    "personal-note",
    "list-note",
    *OFFENSES,
    *(f"{code}-suggestion" for code in OFFENSES),
    # every offense has its own wording when you made the introduction and were copied: the
    # sender's ask went to the person you introduced, not to you
    *(f"{code}-introducer" for code in OFFENSES),
    "what-can-you-do-for-me-gentle",  # the same offense, for someone out of work or just moved
    "referral-bounty-attention",  # a reward for the reader's own time, not for referrals
    "network-harvesting-audience",  # a place before the reader's group, readers or listeners
    "referral-bounty-attention-suggestion",
    "network-harvesting-audience-suggestion",
    "network-harvesting-staff",  # an ask that reaches for the people who work with the reader
    "network-harvesting-staff-suggestion",
    "introducer-suggestion",
    "also",
    "closing",
)

PLACEHOLDERS: Mapping[str, str] = {
    "greeting": '"Hi Jane," with the sender\'s first name, or "Hello," when it is not known',
    "first_name": 'the sender\'s first name, or "there" when it is not known',
    "sender_name": "the sender's display name as written, or their address",
    "sender_email": "the address the draft goes to",
    "subject": "the subject of their message, without Re:/Fwd: prefixes",
    "your_name": "from_name from [drafts] in the config (may be empty)",
    "your_email": "your address the draft is sent from",
    "signature": "your from_name and signature from [drafts], as the sign-off block",
    "introducer": 'who made the introduction: their first name, or "our mutual contact"',
    "introduced_to": 'who the sender was introduced to: first name, or "my contact"',
    "ask": "the sender's own sentence with their ask, as written (what-you-wrote.txt)",
    "situation": 'how you stand, as the message shows it: "After Dana introduced us, you wrote"',
    "context": 'the same without the verb, for what-you-asked.txt: "After Dana introduced us,"',
    "request": 'their ask said plainly: "asked me to introduce you to someone at Acme"',
    "event": 'the event where you met, as the message names it ("the DevRel Summit"), or "we met"',
    "mutual": 'who sent them to you, as the message says ("Lucia"), or "our mutual contact"',
    "offense": 'the main offense in plain words, e.g. "offers a reward for referrals"',
    "also": "the other offenses, briefly (only meaningful in also.txt)",
}

_VARIANT_SEPARATOR = re.compile(r"^-{3,}\s*$")
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


# --------------------------------------------------------------------------- formatting


class _KeepUnknown(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _sanitise(template: str) -> str:
    """Escape every brace that is not a plain `{name}` field, so format_map sees only those."""

    def escape(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token
        name = match.group(1)
        if name is not None and _IDENTIFIER.fullmatch(name):
            return token
        return token.replace("{", "{{").replace("}", "}}")

    return _FIELD.sub(escape, template)


def safe_format(template: str, values: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders; anything else in braces (`{x.attr}`, `{0}`, `{x!r}`,
    `{x:>9}`) stays literal text, and unknown names stay as `{name}`."""
    return _sanitise(template).format_map(_KeepUnknown(values))


def template_fields(template: str) -> list[str]:
    """Placeholder names a template uses, and the brace expressions it would leave as text."""
    fields = []
    for match in _FIELD.finditer(template):
        if match.group(1) is not None:
            fields.append(match.group(1))
    return fields


def word_count(text: str) -> int:
    return len(text.split())


def clean_text(text: str, limit: int) -> str:
    """One line: control, zero-width and bidi-override characters removed, spaces collapsed."""
    return " ".join(CONTROL_CHARS.sub(" ", unicodedata.normalize("NFC", text)).split())[:limit]


# --------------------------------------------------------------------------- templates


def parse_variants(text: str) -> tuple[str, ...]:
    """A template file's variants: split on `---` lines, `#` comment lines dropped."""
    variants: list[str] = []
    current: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _VARIANT_SEPARATOR.match(line):
            variants.append("\n".join(current).strip())
            current = []
        elif not line.startswith("#"):
            current.append(line.rstrip())
    variants.append("\n".join(current).strip())
    return tuple(v for v in variants if v)


@dataclass(frozen=True)
class Templates:
    """The variants of every part: built-in, with the user's overrides on top."""

    parts: Mapping[str, tuple[str, ...]]
    overridden: frozenset[str] = frozenset()  # part names that came from the user
    builtin: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def variants(self, part: str, *, use_overrides: bool = True) -> tuple[str, ...]:
        if use_overrides:
            return self.parts[part]
        return self.builtin.get(part) or self.parts[part]


@lru_cache(maxsize=1)
def _builtin_parts() -> Mapping[str, tuple[str, ...]]:
    folder = resources.files("triage") / "templates"
    parts = {}
    for name in PART_NAMES:
        parts[name] = parse_variants((folder / f"{name}.txt").read_text(encoding="utf-8"))
    return parts


def builtin_templates() -> Templates:
    parts = _builtin_parts()
    return Templates(parts=parts, builtin=parts)


def _read_override(path: Path) -> tuple[tuple[str, ...], str]:
    """The variants in a user's template file, or () and why it cannot be used."""
    try:
        data = path.read_bytes()[: MAX_TEMPLATE_BYTES + 1]
    except OSError as exc:
        return (), f"cannot read it: {exc.strerror or exc}"
    if len(data) > MAX_TEMPLATE_BYTES:
        return (), f"it is larger than {MAX_TEMPLATE_BYTES} bytes"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return (), "it is not UTF-8 text"
    variants = parse_variants(text)
    if not variants:
        return (), "it has no text (only comments or blank lines)"
    return variants, ""


def load_templates(directory: Path | None) -> Templates:
    """The built-in wording with any `<directory>/<part>.txt` the user wrote on top.

    A file that cannot be used is skipped with a warning in the log; it never stops a draft.
    """
    base = builtin_templates()
    if directory is None or not directory.is_dir():
        return base
    parts = dict(base.parts)
    overridden = set()
    for name in PART_NAMES:
        path = directory / f"{name}.txt"
        if not path.is_file():
            continue
        variants, problem = _read_override(path)
        if problem:
            log.warning("template %s ignored: %s", path, problem)
            continue
        parts[name] = variants
        overridden.add(name)
    return Templates(parts=parts, overridden=frozenset(overridden), builtin=base.builtin)


def check_templates(directory: Path) -> list[str]:
    """Problems with the user's template files, one line each ([] when all is well)."""
    problems = []
    if not directory.is_dir():
        return [f"{directory}: not a directory"]
    known = set(PART_NAMES)
    for path in sorted(directory.iterdir()):
        if path.suffix != ".txt":
            continue
        if path.stem not in known:
            problems.append(f"{path}: not a template name triage uses (see PART_NAMES)")
            continue
        variants, problem = _read_override(path)
        if problem:
            problems.append(f"{path}: {problem}")
            continue
        for number, variant in enumerate(variants, start=1):
            for name in template_fields(variant):
                if not _IDENTIFIER.fullmatch(name):
                    problems.append(
                        f"{path}: variant {number}: {{{name}}} is left as text "
                        "(only plain {name} placeholders are filled)"
                    )
                elif name not in PLACEHOLDERS:
                    problems.append(f"{path}: variant {number}: unknown placeholder {{{name}}}")
    return problems
