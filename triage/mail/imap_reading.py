"""Reading and watching a folder over IMAP: open it, search and fetch by UID, wait for change.

It exists to hold the adapter's read side in one place, and with it the promise that reading
never changes the mailbox: messages are fetched with `BODY.PEEK` (never \\Seen), in batches,
the header plus the first `FETCH_BODY_BYTES` of the body; `wait()` is IDLE, or a plain sleep
on servers without it. The header searches here also find triage's drafts again
(`HeaderSearch`).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import date
from typing import Any

from triage.batching import chunks
from triage.errors import ConnectionLostError, MailboxError
from triage.mail.imap_core import ImapCore, as_int, as_text
from triage.mail.message_ids import message_id_in
from triage.mail.protocol import FetchedMessage, FolderStatus

# What is fetched of each message: the whole header and this much of the body (the classifier
# reads the opening of the text; a 20 MB attachment is never downloaded).
FETCH_BODY_BYTES = 256 * 1024
FETCH_CHUNK = 500  # UIDs per FETCH command
SEARCH_OR_CHUNK = 25  # Message-IDs per OR-ed HEADER search
IDLE_CHECK_SECONDS = 1.0  # how often a waiting IDLE looks at `interrupted()`
_CHANGES = {b"EXISTS", b"RECENT", b"EXPUNGE", b"FETCH", b"VANISHED"}


class FolderReading(ImapCore):
    """The read side of an `ImapSession`: folders opened, messages found and fetched, IDLE."""

    body_bytes = FETCH_BODY_BYTES

    def open_folder(self, folder: str) -> FolderStatus:
        """(Re-)open a folder: SELECT in a read-write session, EXAMINE in a read-only one.

        Opening again every time is deliberate: it is the cheapest way to get the current
        UIDVALIDITY and UIDNEXT from every server.
        """
        response = self._select(folder, force=True)
        uidvalidity = as_int(response.get(b"UIDVALIDITY"))
        uidnext = as_int(response.get(b"UIDNEXT"))
        if uidvalidity is None:
            raise MailboxError(
                f"account {self.account.name!r}: the server gave no UIDVALIDITY for {folder!r}"
            )
        if uidnext is None:  # optional before IMAP4rev2; work it out
            with self._converting(f"SEARCH {folder}"):
                uids = self._client.search(["ALL"])
            uidnext = max(uids, default=0) + 1
        self._known_next[folder] = uidnext
        highestmodseq = as_int(response.get(b"HIGHESTMODSEQ"))
        if highestmodseq is not None:
            self._opened_modseq[folder] = highestmodseq
        return FolderStatus(uidvalidity=uidvalidity, uidnext=uidnext, highestmodseq=highestmodseq)

    def search(self, folder: str, *, min_uid: int = 1, since: date | None = None) -> list[int]:
        self._select(folder)
        criteria: list[Any] = ["UID", f"{max(min_uid, 1)}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        with self._converting(f"SEARCH {folder}"):
            uids = self._client.search(criteria)
        # "n:*" always matches the highest UID, even when it is below n.
        found = sorted(int(u) for u in uids if int(u) >= min_uid)
        if found and since is None:
            self._known_next[folder] = max(self._known_next.get(folder, 0), found[-1] + 1)
        return found

    def fetch(self, folder: str, uids: Sequence[int]) -> list[FetchedMessage]:
        """Header plus the first `body_bytes` of the body, with BODY.PEEK (never \\Seen)."""
        self._select(folder)
        # Only what triage reads: INTERNALDATE and MODSEQ would cost a third more time to
        # parse on a backfill, for nothing (`internal_date` and `modseq` stay None).
        items = ["UID", "FLAGS", "BODY.PEEK[HEADER]", f"BODY.PEEK[TEXT]<0.{self.body_bytes}>"]
        if self.is_gmail:
            items.append("X-GM-LABELS")
        fetched: list[FetchedMessage] = []
        for chunk in map(list, chunks(uids, FETCH_CHUNK)):
            with self._converting(f"FETCH {folder}"):
                response = self._client.fetch(chunk, items)
            for uid in chunk:
                data = response.get(uid)
                if data is None:
                    continue  # expunged meanwhile
                header = _body(data, b"BODY[HEADER]")
                text = _body(data, b"BODY[TEXT]")
                fetched.append(
                    FetchedMessage(
                        uid=uid,
                        raw=header + text,
                        flags=frozenset(as_text(f) for f in data.get(b"FLAGS", ())),
                        labels=frozenset(as_text(label) for label in data.get(b"X-GM-LABELS", ())),
                    )
                )
        return fetched

    def fetch_headers(
        self, folder: str, uids: Sequence[int], names: Sequence[str]
    ) -> dict[int, bytes]:
        """Only the named header fields of each message (BODY.PEEK[HEADER.FIELDS (...)])."""
        self._select(folder)
        part = f"BODY[HEADER.FIELDS ({' '.join(n.upper() for n in names)})]"
        result: dict[int, bytes] = {}
        for chunk in map(list, chunks(uids, FETCH_CHUNK * 4)):
            with self._converting(f"FETCH {folder}"):
                response = self._client.fetch(chunk, [part.replace("BODY[", "BODY.PEEK[")])
            for uid, data in response.items():
                result[int(uid)] = _body(data, b"BODY[HEADER.FIELDS")
        return result

    def _search_header(self, folder: str, header: str, values: Sequence[str]) -> dict[int, str]:
        """uid -> Message-ID for messages whose `header` contains one of `values`."""
        self._select(folder)
        hits: set[int] = set()
        for chunk in chunks(values, SEARCH_OR_CHUNK):
            with self._converting(f"SEARCH {folder}"):
                hits.update(int(u) for u in self._client.search(_or_header(header, chunk)))
        if not hits:
            return {}
        headers = self.fetch_headers(folder, sorted(hits), ["Message-ID"])
        return {uid: message_id_in(raw) for uid, raw in headers.items()}

    # ------------------------------------------------------------------ optional protocols

    def find_message_id(self, folder: str, message_id: str) -> list[int]:
        """UIDs in `folder` whose Message-ID header is exactly `message_id`."""
        if not message_id:
            return []
        found = self._search_header(folder, "Message-ID", [message_id])
        return sorted(uid for uid, mid in found.items() if mid == message_id)

    def find_replies(self, folder: str, message_id: str) -> list[int]:
        """UIDs in `folder` that are replies to `message_id` (In-Reply-To or References)."""
        if not message_id:
            return []
        self._select(folder)
        criteria = ["OR", "HEADER", "In-Reply-To", message_id, "HEADER", "References", message_id]
        with self._converting(f"SEARCH {folder}"):
            return sorted(int(u) for u in self._client.search(criteria))

    def wait(
        self, folder: str, *, timeout: float, poll_interval: float, interrupted: Callable[[], bool]
    ) -> bool:
        """Block until `folder` may have changed (True), or `timeout` passed or `interrupted()`
        (False). IDLE where the server has it; otherwise a sleep of `poll_interval`, after
        which the caller looks again (True)."""
        if not self.can_idle:
            deadline = time.monotonic() + min(poll_interval, timeout)
            while time.monotonic() < deadline:
                if interrupted():
                    return False
                time.sleep(min(IDLE_CHECK_SECONDS, max(deadline - time.monotonic(), 0)))
            with self._converting("NOOP"):
                self._client.noop()
            return True
        self._select(folder)
        if self._arrived_since_last_look(folder) or self._flags_changed_since_open(folder):
            return True
        deadline = time.monotonic() + timeout
        with self._converting("IDLE"):
            self._client.idle()
        # Mail that arrived just before IDLE started is announced right after "+ idling",
        # often in the same packet; imaplib then holds the EXISTS in its read buffer, where
        # idle_check's poll() on the socket never sees it.
        changed = self._input_buffered()
        try:
            while not changed:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or interrupted():
                    break
                step = min(IDLE_CHECK_SECONDS, remaining)
                started = time.monotonic()
                with self._converting("IDLE"):
                    responses = self._client.idle_check(timeout=step)
                for response in responses:
                    if b"BYE" in response[:1]:
                        raise ConnectionLostError(
                            f"account {self.account.name!r}: {self.account.host} ended the "
                            f"connection during IDLE: {as_text(response[-1])}"
                        )
                    if any(item in _CHANGES for item in response[:2] if isinstance(item, bytes)):
                        changed = True
                if not responses and time.monotonic() - started < step * 0.9:
                    # The socket was readable but held no whole line: the server hung up (or
                    # sent half a line). Ending IDLE tells which; either way, look again.
                    changed = True
        finally:
            if not self._closed:
                with self._converting("IDLE DONE"):
                    self._client.idle_done()
        return changed

    def _input_buffered(self) -> bool:
        """Whether server data already waits in imaplib's read buffer (or in the TLS layer),
        where poll() on the socket cannot see it. Never blocks."""
        file = getattr(getattr(self._client, "_imap", None), "file", None)
        if file is None or not hasattr(file, "peek"):
            return False
        sock = self._client.socket()
        previous = sock.gettimeout()
        sock.setblocking(False)
        try:
            # Buffered bytes come back at once; with an empty buffer this is one
            # non-blocking read, which finds only what TLS has already decrypted.
            return bool(file.peek(1))
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except (OSError, ValueError):
            return True  # a dead connection: ending IDLE will report it
        finally:
            with suppress(OSError):
                sock.settimeout(previous)

    def _arrived_since_last_look(self, folder: str) -> bool:
        """Mail that arrived between the caller's last search and now.

        The server announces it (EXISTS) in the reply to whatever command comes next, say a
        STORE, and not again once IDLE starts; so look before idling, or it would wait for
        the next IDLE refresh."""
        known = self._known_next.get(folder)
        if known is None:
            return False
        # imaplib keeps untagged responses that came with other commands' replies here.
        untagged = getattr(getattr(self._client, "_imap", None), "untagged_responses", None)
        if isinstance(untagged, dict):
            untagged.pop("EXISTS", None)
            untagged.pop("RECENT", None)
        with self._converting(f"SEARCH {folder}"):
            uids = self._client.search(["UID", f"{known}:*"])
        if any(int(u) >= known for u in uids):
            return True
        # A message that arrived while the SEARCH ran is announced in its reply (after the
        # result was computed) and never again.
        return isinstance(untagged, dict) and ("EXISTS" in untagged or "RECENT" in untagged)

    def _flags_changed_since_open(self, folder: str) -> bool:
        """Flags changed since the caller last opened the folder: the user relabelled mail
        during a catch-up (or triage wrote its own labels). IDLE announces only later changes,
        so the caller must look again first, or a correction would wait for the next refresh.
        After triage's own labelling this costs one more look, which then finds nothing."""
        known = self._opened_modseq.get(folder)
        if known is None or not self.has_capability("CONDSTORE"):
            return False
        with self._converting(f"SEARCH {folder}"):
            return bool(self._client.search(["MODSEQ", str(known + 1)]))


def _body(data: dict[bytes, Any], prefix: bytes) -> bytes:
    """A BODY[...] item by prefix (servers echo `BODY[TEXT]<0>` with the origin)."""
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(prefix):
            if value is None:
                return b""
            return value if isinstance(value, bytes) else str(value).encode()
    return b""


def _or_header(header: str, values: Sequence[str]) -> list[str]:
    """`OR HEADER h a OR HEADER h b HEADER h c`: a search key matching any of the values."""
    criteria: list[str] = []
    for index, value in enumerate(values):
        if index < len(values) - 1:
            criteria.append("OR")
        criteria += ["HEADER", header, value]
    return criteria
