"""What a folder processor works with, passed in as one object (tests hand it simple parts)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from triage.daemon.clock import SYSTEM_CLOCK, Clock
from triage.daemon.corrections import CorrectionWatcher
from triage.daemon.outcomes import Outcome
from triage.mail.protocol import Mailbox
from triage.model.classifier import Classifier
from triage.store.state import State

Compose = Callable[..., Any]  # replies.build_draft-compatible


def default_compose() -> Compose:
    """`triage.letters.replies.build_draft`, imported when a processor is built: a process
    that never writes drafts does not load the templates."""
    from triage.letters.replies import build_draft

    return build_draft


class DraftFingerprints:
    """The letters written in this run, shared by every worker, so no two drafts share a body."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def snapshot(self) -> set[str]:
        with self._lock:
            return set(self._seen)

    def add(self, fingerprint: str) -> None:
        with self._lock:
            self._seen.add(fingerprint)


@dataclass(frozen=True)
class FolderParts:
    """The mailbox, the state (owned by the calling thread), the classifier and the rest.

    `should_stop` is checked between batches and between drafts; `on_outcome` is called for
    every message handled. The lock and the fingerprints are shared by a daemon's workers."""

    mailbox: Mailbox
    state: State
    classifier: Classifier
    clock: Clock = SYSTEM_CLOCK
    compose: Compose | None = None  # None: triage.letters.replies.build_draft
    corrections: CorrectionWatcher | None = None  # notices the user's label changes
    should_stop: Callable[[], bool] = lambda: False
    on_outcome: Callable[[Outcome], None] | None = None
    classify_lock: threading.Lock = field(default_factory=threading.Lock)
    fingerprints: DraftFingerprints = field(default_factory=DraftFingerprints)
