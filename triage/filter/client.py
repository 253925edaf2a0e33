"""`triage filter` answered by a running `triage serve`, the way spamc hands mail to spamd.

A mail filter is started once per delivered message; loading numpy and the model costs it
about 0.2 s a message. `triage serve` (triage.filter.server) loads them once and listens on a
Unix socket in the user's private runtime directory (mode 0600, no network listener).
`triage filter` sends the message there and gets the X-Triage headers back; when nothing
answers, or the server serves another model than the one asked for, the filter classifies
in-process. This side imports nothing heavy: it runs in every filter process.

The exchange: the client sends `triage-filter/1`, a line with the model it wants ("" for the
shipped one), then the message (at most what the parser reads), and closes its side. The
server answers `ok` and one `Name: value` line per header, or `other-model`.
"""

from __future__ import annotations

import os
import socket
import stat

SOCKET_NAME = "filter.sock"
HELLO = b"triage-filter/1"
# What parse_message reads (triage.message.parse.MAX_PARSE_BYTES) plus one byte to notice that there
# was more; a test holds the two together, so the client need not import the parser.
SENT_BYTES = 1_000_001
MAX_REPLY = 64 * 1024
CLIENT_TIMEOUT = 10.0  # a server this slow is stuck: classify in-process instead


def socket_path() -> str:
    """`$XDG_RUNTIME_DIR/triage/filter.sock`, or `$TMPDIR/triage-UID/` (/tmp without TMPDIR)
    where there is no runtime directory (macOS gives every user a private TMPDIR). Either way
    the server makes the directory 0700 and refuses one it does not own, and the client
    talks only to a socket its own user made. Plain os.path: pathlib costs every filter 4 ms."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        return os.path.join(runtime, "triage", SOCKET_NAME)
    temp = os.environ.get("TMPDIR", "")
    temp = temp if os.path.isabs(temp) else "/tmp"
    return os.path.join(temp, f"triage-{os.getuid()}", SOCKET_NAME)


def model_key(model: str | os.PathLike[str] | None) -> str:
    """How a filter and a server name the model they use: its real path, "" for the shipped one."""
    return os.path.realpath(model) if model else ""


def ask_server(raw: bytes, model: str, path: str | None = None) -> list[tuple[str, str]] | None:
    """The headers from a `triage serve` of ours serving `model`, or None when there is none."""
    path = path or socket_path()
    try:
        info = os.stat(path)
        if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
            return None  # not a socket, or not ours: never hand our mail to another user
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(CLIENT_TIMEOUT)
            conn.connect(path)
            conn.sendall(HELLO + b"\n" + model.encode() + b"\n")
            conn.sendall(memoryview(raw)[:SENT_BYTES])
            conn.shutdown(socket.SHUT_WR)
            reply = _read_all(conn, MAX_REPLY)
    except OSError:
        return None
    status, _, rest = reply.decode("utf-8", "replace").partition("\n")
    if status != "ok":
        return None
    headers = [
        (name, value)
        for name, found, value in (line.partition(": ") for line in rest.splitlines())
        if found
    ]
    return headers or None


def _read_all(conn: socket.socket, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit and (chunk := conn.recv(min(65536, limit - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
