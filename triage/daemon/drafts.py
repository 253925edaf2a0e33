"""Writing one feedback draft exactly once: look for it before writing again, record it as
written right after the APPEND, then give the original the drafted label."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from triage.batching import chunks
from triage.daemon.options import Options
from triage.daemon.parts import FolderParts, default_compose
from triage.errors import ConnectionLostError, TriageError, one_line
from triage.mail.message_ids import header_bytes
from triage.mail.protocol import HeaderSearch
from triage.message.parse import parse_message

if TYPE_CHECKING:
    from triage.daemon.batch import Item

log = logging.getLogger(__name__)

DRAFT_FLAGS = ("\\Draft", "\\Seen")


class DraftWriter:
    """The drafts of one account's folders: where they go, and each written at most once."""

    def __init__(self, parts: FolderParts, options: Options) -> None:
        self.parts = parts
        self.mailbox = parts.mailbox
        self.state = parts.state
        self.options = options
        self.compose = parts.compose if parts.compose is not None else default_compose()
        self._folder: str | None = None

    @property
    def account(self) -> str:
        return self.options.account

    def folder(self) -> str:
        """The Drafts folder ("" when there is none: then no drafts are written)."""
        if self._folder is None:
            folder = self.options.drafts_folder or self.mailbox.special_folders().drafts
            if not folder:
                log.warning(
                    "account %s: no Drafts folder found (no \\Drafts special-use "
                    "folder and none of the usual names); no feedback drafts",
                    self.account,
                )
            self._folder = folder
        return self._folder

    def plan_capped(self, folder: str, uidvalidity: int, item: Item) -> None:
        """A failed draft does not use up a place under the daily cap: offer it to the next
        message the cap turned away."""
        assert item.capped is not None
        drafts = self.options.drafts
        plan = self.state.plan_capped_draft(
            self.account,
            folder,
            uidvalidity,
            item.capped,
            drafts_folder=self.folder(),
            daily_cap=drafts.daily_cap,
            cooldown_days=drafts.cooldown_days,
            now=self.parts.clock.now(),
        )
        if plan.planned:
            item.draft_id, item.draft_planned, item.note = item.capped.draft_message_id, True, ""

    def write(self, folder: str, uidvalidity: int, item: Item, drafted_label: str) -> None:
        """Write the planned draft once, then give the original the drafted label."""
        clock = self.parts.clock
        drafts_folder = self.folder()
        # Interrupted after the APPEND but before recording it? Then it is there.
        if (
            not item.draft_written
            and item.row is not None
            and self._in_folder(drafts_folder, item.draft_id)
        ):
            log.info("%s: draft %s was already written", self.account, item.draft_id)
            self.state.draft_written(
                self.account, folder, uidvalidity, item.fetched.uid, item.draft_id, clock.now()
            )
            item.draft_written = True
        if not item.draft_written and item.message is None:
            try:  # recovered from the ledger: parse it again for the letter
                item.message = parse_message(item.fetched.raw)
            except Exception:  # noqa: BLE001
                item.message = None
        if not item.draft_written:
            if item.message is None or item.decision is None:
                item.error = "the draft could not be composed"
                self.state.draft_failed(item.draft_id)
                return
            try:
                draft = self.compose(
                    item.message,
                    item.decision,
                    self.options.drafts,
                    self.options.user_address,
                    templates_dir=self.options.templates_dir,
                    now=clock.now().astimezone(),
                    avoid=self.parts.fingerprints.snapshot(),
                )
                raw = draft.raw
                if draft.message_id != item.draft_id:  # pragma: no cover - same function
                    raw = set_message_id(raw, item.draft_id)
                self.mailbox.append(drafts_folder, raw, DRAFT_FLAGS)
            except ConnectionLostError:
                raise
            except TriageError as exc:
                log.warning(
                    "%s/%s: no draft for UID %d: %s",
                    self.account,
                    folder,
                    item.fetched.uid,
                    one_line(exc),
                )
                item.note = f"draft failed: {one_line(exc)}"
                item.error = item.note
                self.state.draft_failed(item.draft_id)
                return
            self.parts.fingerprints.add(draft.letter.fingerprint)
            self.state.draft_written(
                self.account, folder, uidvalidity, item.fetched.uid, item.draft_id, clock.now()
            )
            item.draft_written = True
            log.info(
                "%s/%s: feedback draft for UID %d written to %s",
                self.account,
                folder,
                item.fetched.uid,
                drafts_folder,
            )
        self.mailbox.add_label(folder, [item.fetched.uid], drafted_label)
        item.labels = (*item.labels, drafted_label)

    def _in_folder(self, folder: str, message_id: str) -> bool:
        if isinstance(self.mailbox, HeaderSearch):
            return bool(self.mailbox.find_message_id(folder, message_id))
        # Any backend: read the headers of the whole folder (only on recovery).
        self.mailbox.open_folder(folder)
        uids = self.mailbox.search(folder)
        for chunk in chunks(uids, 500):
            for fetched in self.mailbox.fetch(folder, chunk):
                header = header_bytes(fetched.raw)
                if message_id.encode("utf-8", "replace") in header:
                    return True
        return False


def set_message_id(raw: bytes, message_id: str) -> bytes:
    """`raw` with its Message-ID field replaced (a composer that named the draft otherwise)."""
    head = header_bytes(raw)
    body = raw[len(head) :]
    lines = re.sub(rb"(?im)^message-id:.*(?:\r?\n[ \t].*)*\r?\n", b"", head)
    return f"Message-ID: {message_id}\r\n".encode() + lines + body
