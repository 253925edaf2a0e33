"""The state a dry run reads: where the last real run stopped, and nothing is ever written."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from triage.errors import StateError
from triage.store.records import FolderCheckpoint, LedgerRow
from triage.store.state import State


class EmptyState:
    """Stands in for `State` in a dry run before any real run: knows nothing, writes nothing.

    It has only the reads a dry run makes; a dry run never calls a writing method."""

    def folder(self, account: str, folder: str) -> FolderCheckpoint | None:
        return None

    def ledger(
        self, account: str, folder: str, uidvalidity: int, uids: Iterable[int]
    ) -> dict[int, LedgerRow]:
        return {}

    def seen_before(
        self, account: str, folder: str, uidvalidity: int, keys: Iterable[str]
    ) -> dict[str, LedgerRow]:
        return {}

    def known_uids(self, account: str, folder: str, uidvalidity: int, max_uid: int) -> set[int]:
        return set()

    def times_written_to(self, addresses: Iterable[str]) -> dict[str, int]:
        return {}

    def recently_drafted(
        self,
        senders: Iterable[str],
        cooldown_days: int,
        now: datetime,
        *,
        except_reply_to: str = "",
    ) -> set[str]:
        return set()

    def sent_checkpoint(self, account: str) -> tuple[str, int, int] | None:
        return None

    def close(self) -> None:
        pass


def open_state(state_dir: Path, *, dry_run: bool) -> State:
    """The state database; for a dry run read-only, or `EmptyState` when there is none yet."""
    if not dry_run:
        return State.open(state_dir)
    try:
        return State.open(state_dir, readonly=True)
    except StateError:
        # It has every method a dry run calls, not all of State's.
        return EmptyState()  # type: ignore[return-value]
