"""Reading one TOML table: each key checked for type and range, unknown keys reported.

Every message a configuration error can have is made here (`config error: FILE: WHERE key
'KEY': expected ..., got ...`, "unknown key ... (did you mean ...?)"), so that all sections,
the accounts and `triage.oauth2.settings` word their errors the same way.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from triage.errors import ConfigError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

MISSING: Any = object()


def show(value: Any) -> str:
    """A short, single-line rendering of a TOML value for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:56] + '..."'
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__} value"


def _suggest(key: str, known: list[str]) -> str | None:
    """The known key a misspelt one most likely meant: "hostname" -> "host"."""
    lowered = key.lower()
    nearly = difflib.get_close_matches(lowered, known, n=1, cutoff=0.75)
    if nearly:  # one letter off: "oauth2_clientid" is not "auth" although it contains it
        return nearly[0]
    for match in (
        lambda k: lowered == k.lower(),
        lambda k: lowered.startswith(k) or k.startswith(lowered),
        lambda k: k in lowered or lowered in k,
    ):
        hits = [k for k in known if match(k)]
        if hits:
            return max(hits, key=len)
    close = difflib.get_close_matches(lowered, known, n=1)
    return close[0] if close else None


class Table:
    """One TOML table being read.

    Each accessor checks one key and marks it as known; `finish()` then reports any key that
    no accessor asked for, so a typo never passes silently.
    """

    def __init__(self, source: Path, where: str, data: Mapping[str, Any]) -> None:
        self.source = source
        self.where = where  # "" for the top level, "[daemon]", "account 'personal'", ...
        self.data = data
        self.known: list[str] = []

    # -- errors

    def _prefix(self, key: str | None = None) -> str:
        parts = [p for p in (self.where, f"key {key!r}" if key else "") if p]
        return f"config error: {self.source}: " + (" ".join(parts) + ": " if parts else "")

    def fail(self, key: str, detail: str) -> ConfigError:
        return ConfigError(self._prefix(key) + detail)

    def wrong(self, key: str, expected: str, value: Any) -> ConfigError:
        return self.fail(key, f"expected {expected}, got {show(value)}")

    # -- lookup

    def _get(self, key: str, default: Any, expected: str) -> Any:
        self.known.append(key)
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            # a misspelling of it is the likeliest reason: say so rather than only "missing"
            typos = [k for k in self.data if k not in self.known and _suggest(k, [key]) == key]
            typo = f"; unknown key {typos[0]!r} (did you mean {key!r}?)" if typos else ""
            raise ConfigError(self._prefix() + f"missing required key {key!r} ({expected}){typo}")
        return default

    def string(
        self,
        key: str,
        default: Any = MISSING,
        *,
        expected: str = "a string",
        check: Callable[[str], bool] | None = None,
    ) -> str:
        value = self._get(key, default, expected)
        if not isinstance(value, str) or (check is not None and not check(value)):
            raise self.wrong(key, expected, value)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = MISSING) -> str:
        expected = " or ".join(json.dumps(c) for c in choices)
        value = self._get(key, default, expected)
        if value not in choices or not isinstance(value, str):
            raise self.wrong(key, expected, value)
        return value

    def integer(
        self, key: str, default: Any = MISSING, *, minimum: int, maximum: int | None = None
    ) -> int:
        if maximum is None:
            expected = f"an integer >= {minimum}"
        else:
            expected = f"an integer {minimum}-{maximum}"
        value = self._get(key, default, expected)
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            raise self.wrong(key, expected, value)
        return value

    def number(
        self, key: str, default: Any = MISSING, *, above: float, at_most: float, unit: str = ""
    ) -> float:
        """An integer or float in the half-open range (above, at_most]."""
        unit = f" {unit}" if unit else ""
        expected = f"a number{unit} greater than {above:g} and at most {at_most:g}"
        value = self._get(key, default, expected)
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or math.isnan(value)
            or not above < value <= at_most
        ):
            raise self.wrong(key, expected, value)
        return float(value)

    def fraction(self, key: str, default: Any = MISSING) -> float:
        expected = "a number from 0 to 1"
        value = self._get(key, default, expected)
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or math.isnan(value)
            or not 0 <= value <= 1
        ):
            raise self.wrong(key, expected, value)
        return float(value)

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        value = self._get(key, default, "true or false")
        if not isinstance(value, bool):
            raise self.wrong(key, "true or false", value)
        return value

    def string_list(
        self,
        key: str,
        default: Any = MISSING,
        *,
        expected: str,
        check: Callable[[str], bool],
        allow_empty: bool,
    ) -> tuple[str, ...]:
        value = self._get(key, default, expected)
        if isinstance(value, tuple):  # the default
            return value
        if not isinstance(value, list) or (not value and not allow_empty):
            raise self.wrong(key, expected, value)
        seen: set[str] = set()
        for item in value:
            if not isinstance(item, str) or not check(item):
                raise self.fail(key, f"expected {expected}, got an entry {show(item)}")
            if item in seen:
                raise self.fail(key, f"expected {expected}, got {show(item)} twice")
            seen.add(item)
        return tuple(value)

    def path(self, key: str, base_dir: Path, *, must_be_file: bool) -> Path | None:
        """An optional path; `~` is expanded, relative paths are relative to the config file."""
        expected = "a path to an existing file" if must_be_file else "a directory path"
        value = self.string(key, "", expected=expected)
        if not value:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        if must_be_file and not path.is_file():
            raise self.wrong(key, expected, value)
        if not must_be_file and path.exists() and not path.is_dir():
            raise self.wrong(key, expected, value)
        return path

    def table(self, key: str, where: str) -> Table:
        value = self._get(key, {}, "a table")
        if not isinstance(value, dict):
            raise self.wrong(key, f"a table ([{key}])", value)
        return Table(self.source, where, value)

    def finish(self) -> None:
        for key in self.data:
            if key not in self.known:
                close = _suggest(key, self.known)
                hint = (
                    f"did you mean {close!r}?"
                    if close
                    else ("known keys: " + ", ".join(self.known))
                )
                raise ConfigError(self._prefix() + f"unknown key {key!r} ({hint})")


def single_line(value: str) -> bool:
    """No control characters: a value that must stay on one line (names, commands, headers)."""
    return not _CONTROL.search(value)
