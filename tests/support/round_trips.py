"""Counting a client's database round trips at the wire, whatever its driver batches."""

from __future__ import annotations

import contextlib
import socket
import threading

import sqlalchemy as sa


class TurnCounter:
    """A TCP proxy to PostgreSQL counting round trips: the times a client sends after the server
    said it was ready for a query (a ReadyForQuery message, protocol 3.0 §55.2), which is where a
    client without pipelining waits after every statement, and a pipelining one after each sync.
    Counting every change of direction would count a pipeline's early results as round trips."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.turns = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            server = socket.create_connection(self.upstream)
            state = {"ready": False}
            threading.Thread(target=self._from_client, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._from_server, args=(server, client, state), daemon=True).start()

    def _from_client(self, source: socket.socket, sink: socket.socket, state: dict[str, bool]) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                with self._lock:
                    if state["ready"]:
                        self.turns += 1
                        state["ready"] = False
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _from_server(self, source: socket.socket, sink: socket.socket, state: dict[str, bool]) -> None:
        pending = b""  # the server's messages: a type byte, then a length that counts itself
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                pending += data
                while len(pending) >= 5 and len(pending) >= 1 + int.from_bytes(pending[1:5], "big"):
                    if pending[:1] == b"Z":
                        with self._lock:
                            state["ready"] = True
                    pending = pending[1 + int.from_bytes(pending[1:5], "big"):]
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def proxied_url(db_url: str, proxy: TurnCounter) -> str:
    """``db_url`` through the proxy, with no TLS or GSSAPI negotiation: their one-byte answers
    are not framed like the messages the proxy reads."""
    url = sa.engine.make_url(db_url)
    return url.set(host="127.0.0.1", port=proxy.port, query={"sslmode": "disable", "gssencmode": "disable"}) \
        .render_as_string(hide_password=False)


def upstream_of(db_url: str) -> tuple[str, int]:
    url = sa.engine.make_url(db_url)
    return url.host or "127.0.0.1", url.port or 5432
