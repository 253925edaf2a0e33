"""How far a long catch-up has come: a bar on a terminal, a log line now and then otherwise
(a service's journal should not fill with carriage returns)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from triage.daemon.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

PROGRESS_LOG_SECONDS = 10.0  # periodic progress lines when stderr is not a terminal
PROGRESS_MIN_MESSAGES = 50  # smaller catch-ups need no progress display


class Progress:
    """A progress bar on a terminal, periodic log lines otherwise."""

    def __init__(
        self, what: str, total: int, *, stream: TextIO | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.what = what
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.started = clock.monotonic()
        self.last = self.started

    def update(self, n: int) -> None:
        self.done += n
        now = self.clock.monotonic()
        rate = self.done / max(now - self.started, 1e-6)
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            self.stream.write(
                f"\r{self.what} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} {rate:,.0f} msg/s "
            )
            self.stream.flush()
        elif now - self.last >= PROGRESS_LOG_SECONDS:
            self.last = now
            log.info("%s: %d/%d messages (%.0f/s)", self.what, self.done, self.total, rate)

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
