"""Labels over IMAP: writing triage's labels, and reading them back to see the user's changes.

It exists because a label is written three ways, by the server's kind: Gmail labels
(`+X-GM-LABELS.SILENT`), keywords (`UID STORE +FLAGS.SILENT`) or, failing both, a `UID COPY`
into a folder created on first use that skips messages whose Message-ID the folder already
holds (so a copy is made once, even after a crash). `read_labels` reads the same three back
for `triage.daemon.corrections`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import suppress

from imapclient.exceptions import IMAPClientError

from triage.batching import chunks
from triage.errors import MailboxError
from triage.mail.imap_core import as_int, as_text
from triage.mail.imap_reading import FETCH_CHUNK, FolderReading
from triage.mail.message_ids import message_id_in

log = logging.getLogger(__name__)


class LabelWriting(FolderReading):
    """The label side of an `ImapSession`: `add_label` once per message, `read_labels`."""

    def add_label(self, folder: str, uids: Sequence[int], label: str) -> None:
        """Keyword, Gmail label or folder copy; applying twice changes nothing."""
        uids = sorted(set(uids))
        if not uids:
            return
        if self.readonly:
            raise MailboxError(f"account {self.account.name!r}: read-only session, no labels")
        style = self.label_style
        if style == "folders":
            self._copy_once(folder, uids, self.server_folder_name(label))
            return
        self._select(folder, writable=True)
        with self._converting(f"STORE {folder}"):
            if style == "gmail":
                self._client.add_gmail_labels(uids, [label], silent=True)
            else:
                self._client.add_flags(uids, [label], silent=True)

    def _copy_once(self, folder: str, uids: list[int], target: str) -> None:
        """COPY into `target`, skipping messages whose Message-ID is already there."""
        self._ensure_folder(target)
        ids = {
            uid: message_id_in(raw)
            for uid, raw in self.fetch_headers(folder, uids, ["Message-ID"]).items()
        }
        wanted = sorted({mid for mid in ids.values() if mid})
        present = (
            set(self._search_header(target, "Message-ID", wanted).values()) if wanted else set()
        )
        todo = [uid for uid in uids if uid in ids and not (ids[uid] and ids[uid] in present)]
        if not todo:
            return
        self._select(folder)
        with self._converting(f"COPY {folder}"):
            self._client.copy(todo, target)

    def server_folder_name(self, label: str) -> str:
        """A label like `Triage/Relationship` as a folder name on this server (its delimiter
        and personal namespace prefix)."""
        delimiter, prefix = self._hierarchy()
        name = label.replace("/", delimiter) if delimiter and delimiter != "/" else label
        if prefix and not name.upper().startswith(prefix.upper()) and name.upper() != "INBOX":
            name = prefix + name
        return name

    def _hierarchy(self) -> tuple[str, str]:
        prefix, delimiter = "", "/"
        if self.has_capability("NAMESPACE"):
            with self._converting("NAMESPACE"), suppress(IMAPClientError):
                personal = self._client.namespace().personal
                if personal:
                    prefix, delimiter = personal[0][0] or "", personal[0][1] or delimiter
                    return delimiter, prefix
        folders = self._list_folders()
        for _flags, delim, _name in folders:
            if delim:
                return delim, prefix
        return delimiter, prefix

    def _ensure_folder(self, name: str) -> None:
        self._list_folders()
        if name in self._existing_folders:
            return
        with self._converting(f"LIST {name}"):
            exists = self._client.folder_exists(name)
        if not exists:
            log.info("account %s: creating folder %s", self.account.name, name)
            with self._converting(f"CREATE {name}"):
                try:
                    self._client.create_folder(name)
                except IMAPClientError:
                    # Someone (another triage thread) may have created it meanwhile.
                    if not self._client.folder_exists(name):
                        raise
            with self._converting(f"SUBSCRIBE {name}"), suppress(IMAPClientError):
                self._client.subscribe_folder(name)
        self._existing_folders.add(name)

    # ------------------------------------------------------------------ reading them back

    def read_labels(
        self,
        folder: str,
        uids: Sequence[int],
        names: Sequence[str],
        *,
        changed_since: int | None = None,
        message_ids: Mapping[int, str] | None = None,
    ) -> dict[int, frozenset[str]]:
        """Which of the labels `names` each message carries now (for `triage.corrections`).

        Keywords: FLAGS; Gmail: X-GM-LABELS; with `changed_since` and CONDSTORE only the
        messages changed after that modseq are reported (`CHANGEDSINCE`). Folders style: whether
        each label folder holds the message's Message-ID (from `message_ids`), ignoring copies
        marked \\Deleted; a label folder is read again only when its STATUS changed. Messages no
        longer in `folder` are absent. Nothing here changes the mailbox or what `wait` sees.
        """
        wanted = sorted(set(uids))
        if not wanted:
            return {}
        if self.label_style == "folders":
            return self._folder_labels(folder, wanted, names, message_ids or {})
        self._select(folder)
        item = "X-GM-LABELS" if self.label_style == "gmail" else "FLAGS"
        modifiers = (
            [f"CHANGEDSINCE {changed_since}"]
            if changed_since is not None and self._condstore
            else None
        )
        known = set(names)
        result: dict[int, frozenset[str]] = {}
        for chunk in chunks(wanted, FETCH_CHUNK * 4):
            with self._converting(f"FETCH {folder}"):
                response = self._client.fetch(chunk, [item], modifiers=modifiers)
            for uid, data in response.items():
                values = data.get(item.encode(), ())
                result[int(uid)] = frozenset(as_text(v) for v in values) & known
        return result

    def _folder_labels(
        self, folder: str, uids: list[int], names: Sequence[str], message_ids: Mapping[int, str]
    ) -> dict[int, frozenset[str]]:
        holders = {name: self._message_ids_in(self.server_folder_name(name)) for name in names}
        self._select(folder)
        with self._converting(f"SEARCH {folder}"):
            # a raw SEARCH: `search` would move what `wait` counts as already reported
            present = {int(u) for u in self._client.search(["UID", f"{uids[0]}:{uids[-1]}"])}
        result: dict[int, frozenset[str]] = {}
        for uid in uids:
            if uid in present:
                mid = message_ids.get(uid, "")
                result[uid] = frozenset(n for n in names if mid and mid in holders[n])
        return result

    def _message_ids_in(self, name: str) -> set[str]:
        """The Message-IDs in a label folder, cached until its STATUS changes."""
        self._list_folders()
        if name not in self._existing_folders:
            with self._converting(f"LIST {name}"):
                if not self._client.folder_exists(name):
                    return set()
            self._existing_folders.add(name)
        items = [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"]
        if self._condstore:
            items.append(b"HIGHESTMODSEQ")  # a copy marked \Deleted changes only this
        with self._converting(f"STATUS {name}"):
            status = self._client.folder_status(name, items)
        key = tuple(as_int(status.get(i)) for i in items)
        cached = self._label_folders.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        self._select(name)
        with self._converting(f"SEARCH {name}"):
            members = sorted(int(u) for u in self._client.search(["NOT", "DELETED"]))
        ids: set[str] = set()
        if members:
            ids = {
                message_id_in(raw)
                for raw in self.fetch_headers(name, members, ["Message-ID"]).values()
            } - {""}
        self._label_folders[name] = (key, ids)
        return ids
