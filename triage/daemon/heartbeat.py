"""What a worker tells `triage status` through the state database: started, connected, the
last error, whether it is still alive. Best effort: a heartbeat that cannot be written never
stops the work."""

from __future__ import annotations

import logging
import os
from typing import Any

from triage.daemon.clock import Clock
from triage.errors import StateError
from triage.store.state import State

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0  # how often a waiting worker tells `triage status` it is alive


class Heartbeat:
    """One worker's heartbeats; with no state (a dry run) it writes nothing."""

    def __init__(
        self, state: State | None, account: str, folder: str, clock: Clock, host: str
    ) -> None:
        self.state = state
        self.account = account
        self.folder = folder
        self.clock = clock
        self.host = host
        self.last = -HEARTBEAT_SECONDS
        self.pending_activity = False

    def _write(self, **kwargs: Any) -> None:
        if self.state is None:
            return
        try:
            self.state.heartbeat(self.account, self.folder, now=self.clock.now(), **kwargs)
            self.last = self.clock.monotonic()
        except StateError as exc:  # status is best effort; the work itself goes on
            log.debug("heartbeat not written: %s", exc)

    def started(self) -> None:
        self._write(started=True, connected=False, stopped=False, pid=os.getpid(), host=self.host)

    def connected(self, value: bool) -> None:
        self._write(connected=value)

    def failed(self, error: str, *, stopped: bool = False) -> None:
        self._write(error=error, connected=False, stopped=stopped or None)

    def activity(self) -> None:
        self.pending_activity = True

    def beat(self, force: bool = False) -> None:
        """Write a heartbeat when one is due (cheap to call every second)."""
        if force or self.clock.monotonic() - self.last >= HEARTBEAT_SECONDS:
            self._write(activity=self.pending_activity)
            self.pending_activity = False

    def stopped(self) -> None:
        self._write(connected=False, stopped=True, activity=self.pending_activity)
