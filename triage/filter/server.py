"""`triage serve`'s side of triage.filter.client: the model loaded once, answering filters.

`headers_for` is also what `triage filter` runs in-process when no server answers, so the
headers are the same either way.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from triage.errors import TriageError
from triage.filter.client import HELLO, SENT_BYTES
from triage.message.parse import parse_message

if TYPE_CHECKING:
    from triage.model.classifier import Classifier

log = logging.getLogger(__name__)
Headers = list[tuple[str, str]]


def headers_for(classifier: Callable[[], Classifier], raw: bytes) -> Headers:
    """The X-Triage headers for one message; any failure gives `X-Triage-Class: error`, never
    an exception (a filter must never lose mail)."""
    try:
        decision = classifier().classify([parse_message(raw)])[0]
    except Exception as exc:  # noqa: BLE001 - stranger's bytes or a broken model
        log.error("classification failed: %s", exc)
        return [("X-Triage-Class", "error")]
    return [
        ("X-Triage-Class", decision.label),
        ("X-Triage-Score", f"{decision.confidence:.3f}"),
        ("X-Triage-Offenses", ", ".join(decision.offenses) or "none"),
    ]


class FilterServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Answers filter requests for one model, reloading it when its file changes."""

    daemon_threads = True
    request_timeout = 30.0  # a client that neither sends nor closes is dropped

    def __init__(
        self, path: Path, model: str, model_file: Path, load: Callable[[], Classifier]
    ) -> None:
        self.model, self.model_file, self._load = model, model_file, load
        self._lock = threading.Lock()
        self._classifier: Classifier | None = None
        self._loaded_stamp: tuple[int, int] | None = None
        self._current()  # a model that does not load is an error now, before the socket exists
        _claim(path)
        old_umask = os.umask(0o177)  # the socket is born 0600
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old_umask)
        self.path = path

    def _current(self) -> Classifier:
        """The model, loaded again when `triage train` or `triage learn` replaced its file."""
        info = os.stat(self.model_file)
        stamp = (info.st_mtime_ns, info.st_size)
        if self._classifier is None or stamp != self._loaded_stamp:
            self._classifier, self._loaded_stamp = self._load(), stamp
        return self._classifier

    def answer(self, raw: bytes) -> bytes:
        with self._lock:  # one at a time: the classifier keeps caches, and may be reloading
            headers = headers_for(self._current, raw)
        return b"ok\n" + b"".join(f"{k}: {v}\n".encode() for k, v in headers)

    def server_close(self) -> None:
        super().server_close()
        self.path.unlink(missing_ok=True)


class _Handler(socketserver.StreamRequestHandler):
    server: FilterServer

    def handle(self) -> None:
        self.request.settimeout(self.server.request_timeout)
        try:
            hello = self.rfile.readline(64).rstrip(b"\n")
            model = self.rfile.readline(4096).rstrip(b"\n").decode("utf-8", "replace")
            if hello != HELLO:
                return
            if model != self.server.model:
                self.wfile.write(b"other-model\n")
                return
            raw = self.rfile.read(SENT_BYTES)
            self.wfile.write(self.server.answer(raw))
        except OSError as exc:
            log.warning("filter request dropped: %s", exc)


def _claim(path: Path) -> None:
    """Make the private directory, and take the socket's place unless a server answers there."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = os.stat(path.parent)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise TriageError(f"{path.parent} must belong to you and be private (chmod 700)")
    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # left behind by a server that died
            return
    raise TriageError(f"another triage serve is answering at {path}")
