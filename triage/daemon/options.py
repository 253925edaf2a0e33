"""What the daemon is asked to do: per account (`Options`) and per run (`RunOptions`).

Small frozen values, so the processor and the supervisor take one object each instead of a
dozen keyword arguments, and a test changes one field with `dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from triage.config import Account, DraftsConfig, LabelNames, LabelSet

BATCH_SIZE = 100  # messages fetched, classified and checkpointed together


@dataclass(frozen=True)
class Options:
    """How one account's folders are processed."""

    account: str
    labels: LabelNames | LabelSet = field(default_factory=LabelNames)  # a LabelSet: as is
    drafts: DraftsConfig = field(default_factory=DraftsConfig)
    user_address: str = ""  # From of the drafts
    user_addresses: frozenset[str] = frozenset()  # all of the user's own addresses
    backfill_days: int | None = 30  # None: the whole folder on the first run
    since: date | None = None  # --since: overrides backfill_days
    dry_run: bool = False
    batch_size: int = BATCH_SIZE
    templates_dir: Path | None = None  # the user's draft wording overrides
    drafts_folder: str = ""  # "" = the mailbox's special-use Drafts
    shadow: bool = False  # mode = "shadow": the review label, no drafts
    progress: bool = True  # a bar (terminal) or log lines on big catch-ups


@dataclass(frozen=True)
class RunOptions:
    """How `triage run` was asked to run: the command line, where the config file has no say."""

    accounts: tuple[Account, ...] | None = None  # None: every account of the config
    state_dir: Path | None = None  # None: the config's
    once: bool = False  # catch up every folder, then return
    dry_run: bool = False
    since: date | None = None
    progress: bool = True
    once_retries: int = 3  # reconnects a `once` run tries before failing
    templates_dir: Path | None = None


def user_addresses(account: Account, drafts: DraftsConfig) -> tuple[str, frozenset[str]]:
    """The draft From address and every address that is the user's own."""
    own = [a.lower() for a in drafts.addresses]
    if "@" in account.username:
        own.append(account.username.lower())
    first = own[0] if own else ""
    return first, frozenset(own)
