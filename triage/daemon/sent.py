"""Who the user writes to, read from the Sent folder: a sender the user has written to is a
relationship, and gets no feedback draft (see `SenderContext`)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from triage.batching import chunks
from triage.daemon.clock import Clock
from triage.daemon.options import Options
from triage.decide.policy import SenderContext
from triage.mail.message_ids import header_bytes
from triage.mail.protocol import HeaderSearch, Mailbox
from triage.store.state import State

log = logging.getLogger(__name__)

SENT_BATCH = 2_000  # Sent messages whose recipients are read per FETCH
SENT_RESYNC_SECONDS = 900.0  # re-read new Sent mail at least this often while running


class SentHistory:
    """The recipients of the user's Sent mail, counted in the state from one checkpoint to the
    next; and what is known about a batch's senders, for the policy."""

    def __init__(self, mailbox: Mailbox, state: State, options: Options, clock: Clock) -> None:
        self.mailbox = mailbox
        self.state = state
        self.options = options
        self.clock = clock
        self._dry_contacts: Counter[str] | None = None  # a dry run's counts, in memory

    @property
    def account(self) -> str:
        return self.options.account

    def sync(self) -> int:
        """Count the recipients of new mail in the Sent folder; returns messages read.

        A dry run reads the whole folder into memory instead (it writes no state), so its
        decisions are the ones a real run would make."""
        folder = self.mailbox.special_folders().sent
        if not folder:
            log.info("account %s: no Sent folder found; no sender history", self.account)
            return 0
        status = self.mailbox.open_folder(folder)
        if self.options.dry_run:
            uids = self.mailbox.search(folder)
            self._dry_contacts = self._count(folder, uids)
            return len(uids)
        known = self.state.sent_checkpoint(self.account)
        reset = known is None or known[0] != folder or known[1] != status.uidvalidity
        last_uid = 0 if reset else known[2] if known else 0
        uids = self.mailbox.search(folder, min_uid=last_uid + 1)
        if reset and known is not None:
            log.info(
                "account %s: Sent folder %s changed (UIDVALIDITY); re-reading it",
                self.account,
                folder,
            )
        counts = self._count(folder, uids)
        newest = max(last_uid, status.uidnext - 1, max(uids, default=0))
        self.state.add_contacts(
            self.account,
            folder,
            status.uidvalidity,
            newest,
            counts,
            reset=reset,
            now=self.clock.now(),
        )
        if uids:
            log.info(
                "account %s: read %d sent messages (%d addresses)",
                self.account,
                len(uids),
                len(counts),
            )
        return len(uids)

    def contexts(self, senders: Sequence[str], now: datetime) -> list[SenderContext]:
        """What is known about each sender: written to, the user's own, recently drafted."""
        if self._dry_contacts is not None:
            contacts = self._dry_contacts
            written = {s: contacts[s] for s in senders if contacts[s]}
        else:
            written = self.state.times_written_to(senders)
        recent = self.state.recently_drafted(senders, self.options.drafts.cooldown_days, now)
        own = self.options.user_addresses
        return [
            SenderContext(
                times_written_to=written.get(s, 0), is_user=s in own, recently_drafted=s in recent
            )
            for s in senders
        ]

    def _count(self, folder: str, uids: Sequence[int]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for chunk in chunks(uids, SENT_BATCH):
            for header in self._recipient_headers(folder, chunk):
                counts.update(recipients(header, self.options.user_addresses))
        return counts

    def _recipient_headers(self, folder: str, uids: Sequence[int]) -> list[bytes]:
        if isinstance(self.mailbox, HeaderSearch):
            return list(self.mailbox.fetch_headers(folder, uids, ("To", "Cc", "Bcc")).values())
        return [header_bytes(m.raw) for m in self.mailbox.fetch(folder, uids)]


def recipients(header: bytes, own: frozenset[str]) -> set[str]:
    """The addresses a sent message went to (To, Cc, Bcc), the user's own left out."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(header)
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in parsed.get_all(name, [])]
    found = {addr.strip().lower() for _name, addr in getaddresses(values) if "@" in addr}
    return found - own
