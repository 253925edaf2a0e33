"""The small sections: `[daemon]`, `[labels]`, `[drafts]`, `[learning]` and `[lists]`.

Each is a table of optional keys with defaults, read by one function into its dataclass; the
checks that span keys (distinct label names, a sender on one list only) live with them.
"""

from __future__ import annotations

import re
from pathlib import Path

from triage.config.tables import Table, show, single_line
from triage.config.values import (
    LIST_KINDS,
    DaemonConfig,
    DraftsConfig,
    LabelNames,
    LabelStyle,
    LearningConfig,
    ListsConfig,
)
from triage.errors import ConfigError

# IMAP keyword = atom: printable ASCII except the atom-specials ( ) { SP % * " \ and ].
_KEYWORD = re.compile(r"[!#$&'+-\[^-z|-~]{1,50}")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LIST_DOMAIN = re.compile(r"@[^@\s.]+(\.[^@\s.]+)+")


def is_valid_keyword(name: str) -> bool:
    """Whether `name` can be stored as an IMAP keyword (flag) on common servers."""
    return bool(_KEYWORD.fullmatch(name)) and not name.startswith("\\")


def read_daemon(table: Table) -> DaemonConfig:
    default = DaemonConfig()
    result = DaemonConfig(
        backfill_days=table.integer("backfill_days", default.backfill_days, minimum=0),
        idle_refresh_minutes=table.number(
            "idle_refresh_minutes",
            default.idle_refresh_minutes,
            above=0,
            at_most=29,
            unit="of minutes",
        ),
        poll_seconds=table.number(
            "poll_seconds", default.poll_seconds, above=0, at_most=86400, unit="of seconds"
        ),
    )
    table.finish()
    return result


def read_labels(table: Table) -> LabelNames:
    default = LabelNames()
    folder = "a non-empty label or folder name"
    keyword = 'an IMAP keyword: 1-50 ASCII characters, no spaces or ( ) { % * " \\ ]'

    def folder_name(v: str) -> bool:
        return bool(v.strip()) and single_line(v)

    result = LabelNames(
        relationship=table.string(
            "relationship", default.relationship, expected=folder, check=folder_name
        ),
        solicitation=table.string(
            "solicitation", default.solicitation, expected=folder, check=folder_name
        ),
        drafted=table.string("drafted", default.drafted, expected=folder, check=folder_name),
        keyword_relationship=table.string(
            "keyword_relationship",
            default.keyword_relationship,
            expected=keyword,
            check=is_valid_keyword,
        ),
        keyword_solicitation=table.string(
            "keyword_solicitation",
            default.keyword_solicitation,
            expected=keyword,
            check=is_valid_keyword,
        ),
        keyword_drafted=table.string(
            "keyword_drafted", default.keyword_drafted, expected=keyword, check=is_valid_keyword
        ),
        review=table.string("review", default.review, expected=folder, check=folder_name),
        keyword_review=table.string(
            "keyword_review", default.keyword_review, expected=keyword, check=is_valid_keyword
        ),
    )
    table.finish()
    styles: tuple[LabelStyle, ...] = ("folders", "keywords")
    for style in styles:
        names = result.for_style(style)
        given = [names.relationship, names.solicitation, names.drafted, names.review]
        if len(set(given)) != len(given):
            raise ConfigError(
                table._prefix()
                + f"the four {style[:-1]} names must differ, got "
                + ", ".join(repr(n) for n in given[:-1])
                + f" and {given[-1]!r}"
            )
    return result


def read_drafts(table: Table) -> DraftsConfig:
    default = DraftsConfig()
    result = DraftsConfig(
        enabled=table.boolean("enabled", default.enabled),
        min_confidence=table.fraction("min_confidence", default.min_confidence),
        daily_cap=table.integer("daily_cap", default.daily_cap, minimum=0),
        cooldown_days=table.integer("cooldown_days", default.cooldown_days, minimum=0),
        signature=table.string("signature", default.signature),
        from_name=table.string(
            "from_name", default.from_name, expected="a single line of text", check=single_line
        ),
        addresses=tuple(
            a.lower()
            for a in table.string_list(
                "addresses",
                default.addresses,
                expected="an array of distinct e-mail addresses",
                check=lambda v: bool(_ADDRESS.fullmatch(v)),
                allow_empty=True,
            )
        ),
    )
    table.finish()
    return result


def read_learning(table: Table, base_dir: Path) -> LearningConfig:
    default = LearningConfig()
    result = LearningConfig(
        retrain_after=table.integer("retrain_after", default.retrain_after, minimum=0),
        correction_weight=table.number(
            "correction_weight", default.correction_weight, above=0, at_most=100
        ),
        watch_days=table.integer("watch_days", default.watch_days, minimum=1, maximum=3650),
        review_target=table.integer("review_target", default.review_target, minimum=1),
        base_model=table.path("base_model", base_dir, must_be_file=True),
    )
    table.finish()
    return result


def _list_entry(value: str) -> bool:
    return value == value.strip().lower() and bool(
        _ADDRESS.fullmatch(value) or _LIST_DOMAIN.fullmatch(value)
    )


def read_lists(table: Table) -> ListsConfig:
    expected = (
        'an array of distinct lower-case addresses ("alice@example.org") or domains '
        '("@example.org")'
    )
    found: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for kind in LIST_KINDS:
        entries = table.string_list(
            kind, (), expected=expected, check=_list_entry, allow_empty=True
        )
        for entry in entries:
            if entry in owner:
                raise table.fail(
                    kind,
                    f"{show(entry)} is also in {owner[entry]!r}; a sender can be on one list only",
                )
            owner[entry] = kind
        found[kind] = entries
    table.finish()
    return ListsConfig(**found)
