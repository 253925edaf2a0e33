"""A TCP proxy on loopback that can drop its connections silently, as a NAT or firewall does.

After `drop_silently()`, every connection open at that moment stays open at both ends but
carries nothing more: bytes sent either way are read and thrown away, no FIN, no RST. A
client notices only by waiting for a reply that never comes. New connections are forwarded as
usual. `bytes_forwarded` counts what went through, for the traffic an idle client costs.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class SilentDropProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self._listener = socket.create_server((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._live: list[tuple[socket.socket, socket.socket]] = []
        self._dropped: set[int] = set()  # id() of the client sockets cut off
        self.connections = 0
        self.bytes_forwarded = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._live.append((client, server))
                self.connections += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink, client), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, client: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                if id(client) not in self._dropped:
                    with suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                return
            if id(client) in self._dropped:
                continue  # lost on the way
            with self._lock:
                self.bytes_forwarded += len(data)
            try:
                sink.sendall(data)
            except OSError:
                return

    def drop_silently(self) -> None:
        with self._lock:
            self._dropped.update(id(client) for client, _server in self._live)

    def close(self) -> None:
        self._closed = True
        with suppress(OSError):
            self._listener.close()
        with self._lock:
            for pair in self._live:
                for sock in pair:
                    with suppress(OSError):
                        sock.close()
