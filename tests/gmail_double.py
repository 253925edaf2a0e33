"""A wire-level test double of Gmail's IMAP: just enough of it for imapclient and triage.

Nothing on PyPI emulates the `X-GM-EXT-1` extension, and Dovecot does not have it, so this is
a small threaded socket server speaking IMAP4rev1 in plain text on loopback: CAPABILITY (with
X-GM-EXT-1 and IDLE), LOGIN, LIST (Gmail's `[Gmail]/...` special-use folders), SELECT/EXAMINE,
UID SEARCH (UID ranges; other keys match everything), UID FETCH (FLAGS, INTERNALDATE, UID,
X-GM-LABELS, BODY.PEEK[HEADER], BODY.PEEK[HEADER.FIELDS (...)], BODY.PEEK[TEXT]<0.n>), UID STORE
+X-GM-LABELS / +FLAGS, APPEND with a synchronising literal, IDLE, NOOP and LOGOUT. Every command is
logged in `commands`, so tests can assert on what went over the wire.
"""

from __future__ import annotations

import re
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

CAPABILITIES = "IMAP4rev1 UIDPLUS IDLE X-GM-EXT-1 SPECIAL-USE"
FOLDERS = (
    ("\\HasNoChildren", "INBOX"),
    ("\\HasChildren \\Noselect", "[Gmail]"),
    ("\\All \\HasNoChildren", "[Gmail]/All Mail"),
    ("\\Drafts \\HasNoChildren", "[Gmail]/Drafts"),
    ("\\HasNoChildren \\Sent", "[Gmail]/Sent Mail"),
)


@dataclass
class GmailMessage:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    internal_date: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Folder:
    uidvalidity: int
    messages: list[GmailMessage] = field(default_factory=list)
    uidnext: int = 1

    def add(
        self, raw: bytes, flags: set[str] | None = None, labels: set[str] | None = None
    ) -> GmailMessage:
        message = GmailMessage(self.uidnext, raw, flags or set(), labels or set())
        self.messages.append(message)
        self.uidnext += 1
        return message


def _tokens(text: str) -> list[str]:
    """Atoms, quoted strings (unquoted) and parenthesised lists (kept whole)."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == " ":
            i += 1
        elif c == '"':
            j = i + 1
            value = ""
            while text[j] != '"':
                if text[j] == "\\":
                    j += 1
                value += text[j]
                j += 1
            tokens.append(value)
            i = j + 1
        elif c == "(":
            depth, j = 0, i
            while True:
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            tokens.append(text[i : j + 1])
            i = j + 1
        else:
            j = i
            while j < len(text) and text[j] != " ":
                if text[j] == "[":  # BODY.PEEK[HEADER.FIELDS (A B)]<0.n> is one atom
                    j = text.index("]", j)
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


def _uid_set(spec: str, highest: int) -> set[int]:
    uids: set[int] = set()
    for part in spec.split(","):
        if ":" in part:
            a, b = part.split(":")
            lo = int(a)
            hi = highest if b == "*" else int(b)
            uids.update(range(min(lo, hi), max(lo, hi) + 1))
        else:
            uids.add(highest if part == "*" else int(part))
    return uids


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class GmailDouble:
    def __init__(self, password: str = "app-password", capabilities: str = CAPABILITIES) -> None:
        self.password = password
        self.capabilities = capabilities
        self.folders = {
            name: Folder(uidvalidity=1000 + i)
            for i, (flags, name) in enumerate(FOLDERS)
            if "Noselect" not in flags
        }
        self.commands: list[str] = []
        self.lock = threading.Lock()
        # Called when a client starts IDLE, with the selected folder: what it returns (say
        # "* 3 EXISTS") goes out in the same packet as the "+ idling" continuation.
        self.on_idle: Callable[[Folder | None], str] | None = None
        double = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                double._serve(self.rfile, self.wfile)  # type: ignore[arg-type]

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GmailDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the protocol

    def _serve(self, r: BinaryIO, w: BinaryIO) -> None:
        def send(line: str | bytes) -> None:
            w.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")

        send(f"* OK [CAPABILITY {self.capabilities}] Gimap ready")
        selected: Folder | None = None
        while True:
            try:
                raw = r.readline()
            except (ConnectionError, OSError):
                return
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            literal = re.search(r"\{(\d+)\}$", line)
            data = b""
            if literal:
                send("+ go ahead")
                data = r.read(int(literal.group(1)))
                r.readline()  # the CRLF after the literal
                line = line[: literal.start()].rstrip()
            tag, _, rest = line.partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            with self.lock:
                self.commands.append(rest if command != "LOGIN" else "LOGIN ...")
            if command == "UID":
                sub, _, args = args.partition(" ")
                command = "UID " + sub.upper()
            if command == "IDLE":
                extra = self.on_idle(selected) if self.on_idle is not None else ""
                w.write(b"+ idling\r\n" + (extra.encode() + b"\r\n" if extra else b""))
                done = r.readline()
                if not done:
                    return
                send(f"{tag} OK IDLE terminated (Success)")
                continue
            try:
                done = self._command(tag, command, args, data, selected, send)
            except Exception as exc:  # noqa: BLE001 - a double reports, it does not crash
                send(f"{tag} BAD {type(exc).__name__}: {exc}")
                continue
            if isinstance(done, Folder):
                selected = done
            elif done == "logout":
                return

    def _command(
        self,
        tag: str,
        command: str,
        args: str,
        data: bytes,
        selected: Folder | None,
        out: Callable[[str | bytes], None],
    ) -> object:
        t = _tokens(args)
        if command == "CAPABILITY":
            out(f"* CAPABILITY {self.capabilities}")
        elif command == "LOGIN":
            if t[1] != self.password:
                out(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)")
                return None
        elif command in ("NOOP", "CHECK"):
            pass
        elif command == "LOGOUT":
            out("* BYE LOGOUT Requested")
            out(f"{tag} OK 73 good day (Success)")
            return "logout"
        elif command == "LIST":
            for flags, name in FOLDERS:
                out(f'* LIST ({flags}) "/" {_quote(name)}')
        elif command in ("SELECT", "EXAMINE"):
            folder = self.folders.get(t[0])
            if folder is None:
                out(f"{tag} NO [NONEXISTENT] Unknown Mailbox: {t[0]}")
                return None
            out("* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)")
            out(
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen \\*)] "
                "Flags permitted."
            )
            out(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid.")
            out(f"* {len(folder.messages)} EXISTS")
            out("* 0 RECENT")
            out(f"* OK [UIDNEXT {folder.uidnext}] Predicted next UID.")
            mode = "READ-WRITE" if command == "SELECT" else "READ-ONLY"
            out(f"{tag} OK [{mode}] {t[0]} selected. (Success)")
            return folder
        elif command == "UID SEARCH":
            assert selected is not None
            highest = max((m.uid for m in selected.messages), default=0)
            uids = {m.uid for m in selected.messages}
            if "UID" in [x.upper() for x in t]:
                spec = t[[x.upper() for x in t].index("UID") + 1]
                uids &= _uid_set(spec, highest)
            out("* SEARCH" + "".join(f" {u}" for u in sorted(uids)))
        elif command == "UID FETCH":
            assert selected is not None
            highest = max((m.uid for m in selected.messages), default=0)
            wanted = _uid_set(t[0], highest)
            items = t[1].strip("()").upper() if t[1].startswith("(") else t[1].upper()
            for seq, message in enumerate(selected.messages, start=1):
                if message.uid in wanted:
                    out(self._fetch_response(seq, message, items))
        elif command == "UID STORE":
            assert selected is not None
            highest = max((m.uid for m in selected.messages), default=0)
            wanted = _uid_set(t[0], highest)
            what = t[1].upper()
            values = _tokens(t[2].strip("()")) if t[2].startswith("(") else [t[2]]
            for message in selected.messages:
                if message.uid not in wanted:
                    continue
                target = message.labels if "X-GM-LABELS" in what else message.flags
                if what.startswith("+"):
                    target.update(values)
                elif what.startswith("-"):
                    target.difference_update(values)
                else:
                    target.clear()
                    target.update(values)
        elif command == "APPEND":
            folder = self.folders[t[0]]
            flags = set(_tokens(t[1].strip("()"))) if len(t) > 1 and t[1].startswith("(") else set()
            message = folder.add(data, flags)
            out(f"{tag} OK [APPENDUID {folder.uidvalidity} {message.uid}] (Success)")
            return None
        else:
            out(f"{tag} BAD Unknown command {command}")
            return None
        out(f"{tag} OK Success")
        return None

    @staticmethod
    def _fetch_response(seq: int, message: GmailMessage, items: str) -> bytes:
        head, sep, body = message.raw.partition(b"\r\n\r\n")
        header = head + sep
        parts: list[bytes] = [f"UID {message.uid}".encode()]
        if "FLAGS" in re.sub(r"X-GM-LABELS", "", items):
            parts.append(f"FLAGS ({' '.join(sorted(message.flags))})".encode())
        if "INTERNALDATE" in items:
            stamp = message.internal_date.strftime("%d-%b-%Y %H:%M:%S +0000")
            parts.append(f'INTERNALDATE "{stamp}"'.encode())
        if "X-GM-LABELS" in items:
            labels = " ".join(
                _quote(label) if not label.startswith("\\") else label
                for label in sorted(message.labels)
            )
            parts.append(f"X-GM-LABELS ({labels})".encode())
        fields = re.search(r"BODY\.PEEK\[HEADER\.FIELDS \(([^)]*)\)\]", items)
        if fields:
            names = {n.lower() for n in fields.group(1).split()}
            kept = b"".join(
                line + b"\r\n"
                for line in head.split(b"\r\n")
                if line.split(b":", 1)[0].strip().lower().decode() in names
            )
            kept += b"\r\n"
            parts.append(
                f"BODY[HEADER.FIELDS ({fields.group(1)})] {{{len(kept)}}}\r\n".encode() + kept
            )
        elif "BODY.PEEK[HEADER]" in items:
            parts.append(f"BODY[HEADER] {{{len(header)}}}\r\n".encode() + header)
        text = re.search(r"BODY\.PEEK\[TEXT\]<0\.(\d+)>", items)
        if text:
            chunk = body[: int(text.group(1))]
            parts.append(f"BODY[TEXT]<0> {{{len(chunk)}}}\r\n".encode() + chunk)
        return f"* {seq} FETCH (".encode() + b" ".join(parts) + b")\r\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
