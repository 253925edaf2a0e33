"""The configuration file: TOML in, frozen dataclasses out, validated once at start-up.

Every problem becomes a `ConfigError` with one line that names the file, the key and what was
expected, for example::

    config error: /home/me/.config/triage/config.toml: account 'personal' key 'port':
    expected an integer 1-65535, got "abc"

(printed on one line). The file holds no secrets: passwords live in the OS keyring or come from
an account's `password_command` (see `triage.mail.credentials`).

Adding a section later: write a frozen dataclass with defaults for every field, a
`_read_<section>(table)` function that reads each key through the `_Table` helpers (which
check the type, the range and report unknown keys), and one line in `_read_config`. Document
the keys in `config.example.toml`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from triage import paths
from triage.errors import ConfigError
from triage.oauth2.settings import OAuth2Config, read_oauth2

TlsMode = Literal["implicit", "starttls", "none"]
LabelMode = Literal["auto", "gmail", "keywords", "folders"]
LabelStyle = Literal["gmail", "keywords", "folders"]
Mode = Literal["active", "shadow"]
Auth = Literal["password", "oauth2"]
ListKind = Literal["relationship", "solicitation", "ignore"]

TLS_MODES: tuple[TlsMode, ...] = ("implicit", "starttls", "none")
LABEL_MODES: tuple[LabelMode, ...] = ("auto", "gmail", "keywords", "folders")
MODES: tuple[Mode, ...] = ("active", "shadow")
AUTHS: tuple[Auth, ...] = ("password", "oauth2")
LIST_KINDS: tuple[ListKind, ...] = ("relationship", "solicitation", "ignore")
DEFAULT_PORTS: Mapping[str, int] = {"implicit": 993, "starttls": 143, "none": 143}

_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# IMAP keyword = atom: printable ASCII except the atom-specials ( ) { SP % * " \ and ].
_KEYWORD = re.compile(r"[!#$&'+-\[^-z|-~]{1,50}")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LIST_DOMAIN = re.compile(r"@[^@\s.]+(\.[^@\s.]+)+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_valid_keyword(name: str) -> bool:
    """Whether `name` can be stored as an IMAP keyword (flag) on common servers."""
    return bool(_KEYWORD.fullmatch(name)) and not name.startswith("\\")


# --------------------------------------------------------------------------- the dataclasses


@dataclass(frozen=True)
class Account:
    """One IMAP account. The password is never here: see `triage.mail.credentials`."""

    name: str
    host: str
    username: str
    port: int = 993
    tls: TlsMode = "implicit"
    ca_file: Path | None = None
    # A command line may embed a secret (`echo hunter2`); keep it out of reprs and logs.
    password_command: str = field(default="", repr=False)
    folders: tuple[str, ...] = ("INBOX",)
    labels: LabelMode = "auto"
    allow_insecure: bool = False
    # "shadow": classify and record, but only mark networking mail with the review label
    # (no class labels, no drafts) until the user switches to "active". Default: the top-level
    # `mode` key.
    mode: Mode = "active"
    auth: Auth = "password"
    oauth2: OAuth2Config | None = None  # with auth = "oauth2": see `triage.oauth2.settings`


@dataclass(frozen=True)
class DaemonConfig:
    """`[daemon]`: how `triage run` watches the mailboxes."""

    backfill_days: int = 30  # first start on a folder: classify mail this many days back
    idle_refresh_minutes: float = 1.0  # re-issue IDLE this often (RFC 2177 limit: 29)
    poll_seconds: float = 60.0  # check interval on servers without IDLE


@dataclass(frozen=True)
class LabelSet:
    """The names triage applies, in one labelling style."""

    relationship: str
    solicitation: str
    drafted: str
    review: str = ""  # shadow mode's one label ("" where there is none)

    def for_class(self, label: str) -> str:
        """The label name of a class, "" for "other" (which gets no label)."""
        if label == "relationship":
            return self.relationship
        if label == "solicitation":
            return self.solicitation
        return ""


@dataclass(frozen=True)
class LabelNames:
    """`[labels]`: what the labels are called.

    `relationship`, `solicitation`, `drafted` and `review` are Gmail labels and, on servers
    without keywords, folder names; the `keyword_*` names are IMAP keywords (flags).
    """

    relationship: str = "Triage/Relationship"
    solicitation: str = "Triage/Solicitation"
    drafted: str = "Triage/Drafted"
    keyword_relationship: str = "triage-relationship"
    keyword_solicitation: str = "triage-solicitation"
    keyword_drafted: str = "triage-drafted"
    review: str = "Triage/Review"
    keyword_review: str = "triage-review"

    def for_style(self, style: LabelStyle) -> LabelSet:
        """The names to use when labelling with Gmail labels, keywords or folders."""
        if style == "keywords":
            return LabelSet(
                self.keyword_relationship, self.keyword_solicitation, self.keyword_drafted,
                self.keyword_review,
            )
        return LabelSet(self.relationship, self.solicitation, self.drafted, self.review)


@dataclass(frozen=True)
class DraftsConfig:
    """`[drafts]`: when triage writes a feedback draft and what it looks like."""

    enabled: bool = True
    min_confidence: float = 0.9
    daily_cap: int = 10  # at most this many new drafts per day, all accounts together
    cooldown_days: int = 90  # at most one draft per sender in this many days
    signature: str = ""
    from_name: str = ""
    addresses: tuple[str, ...] = ()  # the user's own addresses, lower-cased


@dataclass(frozen=True)
class LearningConfig:
    """`[learning]`: corrections, personal models and shadow mode (see `triage.learning`)."""

    retrain_after: int = 20  # the daemon retrains after this many new corrections; 0 = never
    correction_weight: float = 5.0  # a correction counts this many times a training message
    watch_days: int = 30  # label changes are noticed on mail triage handled this many days back
    review_target: int = 30  # reviews per class before `triage status` calls shadow mode done
    base_model: Path | None = None  # personal models build on this model's training set


@dataclass(frozen=True)
class ListsConfig:
    """`[lists]`: senders that are always relationship, always solicitation, or left alone.

    Entries are lower-cased addresses (`alice@example.org`) or domains (`@example.org`, which
    also covers its subdomains). See `triage.lists` for how a sender is matched.
    """

    relationship: tuple[str, ...] = ()
    solicitation: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    source: Path | None
    state_dir: Path
    accounts: tuple[Account, ...] = ()
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    labels: LabelNames = field(default_factory=LabelNames)
    drafts: DraftsConfig = field(default_factory=DraftsConfig)
    learning: LearningConfig = field(default_factory=LearningConfig)
    lists: ListsConfig = field(default_factory=ListsConfig)
    mode: Mode = "active"  # the default of every account's `mode`

    def account(self, name: str) -> Account:
        """The account called `name`, or a ConfigError listing the ones that exist."""
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts) or "none"
        where = f"{self.source}: " if self.source else ""
        raise ConfigError(f"config error: {where}no account named {name!r} (accounts: {known})")


# --------------------------------------------------------------------------- reading a table

_MISSING: Any = object()


def _show(value: Any) -> str:
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


class _Table:
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
        return self.fail(key, f"expected {expected}, got {_show(value)}")

    # -- lookup

    def _get(self, key: str, default: Any, expected: str) -> Any:
        self.known.append(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            # a misspelling of it is the likeliest reason: say so rather than only "missing"
            typos = [k for k in self.data if k not in self.known and _suggest(k, [key]) == key]
            typo = f"; unknown key {typos[0]!r} (did you mean {key!r}?)" if typos else ""
            raise ConfigError(self._prefix() + f"missing required key {key!r} ({expected}){typo}")
        return default

    def string(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        expected: str = "a string",
        check: Callable[[str], bool] | None = None,
    ) -> str:
        value = self._get(key, default, expected)
        if not isinstance(value, str) or (check is not None and not check(value)):
            raise self.wrong(key, expected, value)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> str:
        expected = " or ".join(json.dumps(c) for c in choices)
        value = self._get(key, default, expected)
        if value not in choices or not isinstance(value, str):
            raise self.wrong(key, expected, value)
        return value

    def integer(
        self, key: str, default: Any = _MISSING, *, minimum: int, maximum: int | None = None
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
        self, key: str, default: Any = _MISSING, *, above: float, at_most: float, unit: str = ""
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

    def fraction(self, key: str, default: Any = _MISSING) -> float:
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

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default, "true or false")
        if not isinstance(value, bool):
            raise self.wrong(key, "true or false", value)
        return value

    def string_list(
        self,
        key: str,
        default: Any = _MISSING,
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
                raise self.fail(key, f"expected {expected}, got an entry {_show(item)}")
            if item in seen:
                raise self.fail(key, f"expected {expected}, got {_show(item)} twice")
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

    def table(self, key: str, where: str) -> _Table:
        value = self._get(key, {}, "a table")
        if not isinstance(value, dict):
            raise self.wrong(key, f"a table ([{key}])", value)
        return _Table(self.source, where, value)

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


# --------------------------------------------------------------------------- the sections


def _single_line(value: str) -> bool:
    return not _CONTROL.search(value)


def _host(value: str) -> bool:
    return bool(value) and "://" not in value and not re.search(r"[\s/]", value)


def _read_account(table: _Table, base_dir: Path, default_mode: Mode = "active") -> Account:
    name = table.string(
        "name",
        expected="a name of letters, digits, '.', '_' or '-' (used as `triage login NAME`)",
        check=lambda v: bool(_ACCOUNT_NAME.fullmatch(v)),
    )
    table.where = f"account {name!r}"
    host = table.string("host", expected="a host name such as imap.example.com", check=_host)
    username = table.string(
        "username",
        expected="a non-empty string",
        check=lambda v: bool(v.strip()) and _single_line(v),
    )
    allow_insecure = table.boolean("allow_insecure", False)
    tls_expected = '"implicit" or "starttls" (or "none" together with allow_insecure = true)'
    tls = table.string("tls", "implicit", expected=tls_expected)
    if tls not in TLS_MODES or (tls == "none" and not allow_insecure):
        raise table.wrong("tls", tls_expected, tls)
    port = table.integer("port", DEFAULT_PORTS[tls], minimum=1, maximum=65535)
    ca_file = table.path("ca_file", base_dir, must_be_file=True)
    password_command = table.string(
        "password_command", "", expected="a single-line shell command", check=_single_line
    )
    folders = table.string_list(
        "folders",
        ("INBOX",),
        expected="a non-empty array of distinct folder names",
        check=lambda v: bool(v) and _single_line(v),
        allow_empty=False,
    )
    labels = table.choice("labels", LABEL_MODES, "auto")
    mode = table.choice("mode", MODES, default_mode)
    auth = table.choice("auth", AUTHS, "password")
    oauth2 = read_oauth2(table, auth)
    table.finish()
    return Account(
        name=name,
        host=host,
        username=username,
        port=port,
        tls=tls,
        ca_file=ca_file,
        password_command=password_command,
        folders=folders,
        labels=cast(LabelMode, labels),
        allow_insecure=allow_insecure,
        mode=cast(Mode, mode),
        auth=cast(Auth, auth),
        oauth2=oauth2,
    )


def _read_daemon(table: _Table) -> DaemonConfig:
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


def _read_labels(table: _Table) -> LabelNames:
    default = LabelNames()
    folder = "a non-empty label or folder name"
    keyword = 'an IMAP keyword: 1-50 ASCII characters, no spaces or ( ) { % * " \\ ]'

    def folder_name(v: str) -> bool:
        return bool(v.strip()) and _single_line(v)

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
                table._prefix() + f"the four {style[:-1]} names must differ, got "
                + ", ".join(repr(n) for n in given[:-1]) + f" and {given[-1]!r}"
            )
    return result


def _read_drafts(table: _Table) -> DraftsConfig:
    default = DraftsConfig()
    result = DraftsConfig(
        enabled=table.boolean("enabled", default.enabled),
        min_confidence=table.fraction("min_confidence", default.min_confidence),
        daily_cap=table.integer("daily_cap", default.daily_cap, minimum=0),
        cooldown_days=table.integer("cooldown_days", default.cooldown_days, minimum=0),
        signature=table.string("signature", default.signature),
        from_name=table.string(
            "from_name", default.from_name, expected="a single line of text", check=_single_line
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


def _read_learning(table: _Table, base_dir: Path) -> LearningConfig:
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


def _read_lists(table: _Table) -> ListsConfig:
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
                    kind, f"{_show(entry)} is also in {owner[entry]!r}; a sender can be on "
                    f"one list only"
                )
            owner[entry] = kind
        found[kind] = entries
    table.finish()
    return ListsConfig(**found)


def _read_config(data: Mapping[str, Any], source: Path) -> Config:
    top = _Table(source, "", data)
    base_dir = source.parent
    state_dir = top.path("state_dir", base_dir, must_be_file=False) or paths.default_state_dir()
    mode = cast(Mode, top.choice("mode", MODES, "active"))

    raw_accounts = top._get("account", _MISSING, "at least one [[account]] table")
    if not isinstance(raw_accounts, list) or not raw_accounts:
        raise top.wrong("account", "at least one [[account]] table", raw_accounts)
    accounts: list[Account] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(raw_accounts, start=1):
        if not isinstance(raw, dict):
            raise top.wrong("account", "[[account]] tables", raw)
        account = _read_account(_Table(source, f"account #{number}", raw), base_dir, mode)
        if account.name in first_seen:
            raise ConfigError(
                f"config error: {source}: account #{number} key 'name': expected a name no "
                f"other account uses, got {_show(account.name)} "
                f"(account #{first_seen[account.name]} has it)"
            )
        first_seen[account.name] = number
        accounts.append(account)

    config = Config(
        source=source,
        state_dir=state_dir,
        accounts=tuple(accounts),
        daemon=_read_daemon(top.table("daemon", "[daemon]")),
        labels=_read_labels(top.table("labels", "[labels]")),
        drafts=_read_drafts(top.table("drafts", "[drafts]")),
        learning=_read_learning(top.table("learning", "[learning]"), base_dir),
        lists=_read_lists(top.table("lists", "[lists]")),
        mode=mode,
    )
    top.finish()
    if config.drafts.enabled and not config.drafts.addresses:
        for account in config.accounts:
            if "@" not in account.username:
                # caught here: at run time every draft would fail, one by one
                raise ConfigError(
                    f"config error: {source}: [drafts] key 'addresses': drafts need your own "
                    f"address as their From, and account {account.name!r} logs in as "
                    f"{_show(account.username)}, which is not one: set addresses = "
                    f'["you@example.org"] in [drafts], or enabled = false')
    return config


# --------------------------------------------------------------------------- entry points


def parse_config(text: str, source: Path) -> Config:
    """Validate TOML text as if read from `source` (used for error messages and relative paths)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config error: {source}: not valid TOML: {exc}") from None
    return _read_config(data, source)


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate the config file at `path`, or at the default location when None."""
    explicit = path is not None
    source = Path(path).expanduser() if path is not None else paths.default_config_path()
    source = source.absolute()
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        how = "" if explicit else " (or pass --config PATH)"
        init = "triage config init" + (f" --config {source}" if explicit else "")
        raise ConfigError(
            f"config error: no config file at {source}: `{init}` writes a commented example "
            f"there to edit{how}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"config error: {source}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(
            f"config error: {source}: cannot read the file: {exc.strerror or exc}"
        ) from None
    return parse_config(text, source)


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The `--config PATH` option shared by every command that reads the config file."""
    default = str(paths.default_config_path()).replace("%", "%%")
    parser.add_argument(
        "--config",
        metavar="PATH",
        type=Path,
        default=None,
        help=f"config file (default: {default})",
    )
