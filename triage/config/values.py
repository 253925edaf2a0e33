"""What a configuration is: the frozen dataclasses every other module reads, and their vocabularies.

Kept apart from the reading so that the many modules that only take a `Config`, an `Account`
or a `DraftsConfig` see the values and their defaults in one place, without the TOML checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from triage.errors import ConfigError
from triage.oauth2.settings import OAuth2Config

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
                self.keyword_relationship,
                self.keyword_solicitation,
                self.keyword_drafted,
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
