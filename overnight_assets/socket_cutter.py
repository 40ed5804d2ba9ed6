"""Cutting an httpx request off at a deadline of its own: httpx's timeouts are per phase (connect,
each read, each write), so a server sending a byte now and then never trips them.

A SocketCutter is handed to a request as httpcore's documented `trace` extension; it records each
socket the request connects, and `cut()` shuts them down, which wakes a blocked read or write at
once (closing alone does not wake a read that waits for a silent server). A socket connected after
the cut is shut as it appears. Only a request whose connection was made for it can be cut: a
client that cuts must not keep connections alive between requests.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Callable

_CONNECTED = ("connection.connect_tcp.complete", "connection.start_tls.complete")  # TLS wraps the TCP socket anew


class SocketCutter:
    def __init__(self) -> None:
        self.cut_off = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def trace(self, event: str, info: dict) -> None:
        """httpcore's trace callback: request.extensions["trace"] = cutter.trace."""
        if event not in _CONNECTED:
            return
        sock = info["return_value"].get_extra_info("socket")
        with self._lock:
            self._sockets.append(sock)
            too_late = self.cut_off
        if too_late:  # connected just after the cut: this socket is cut too
            _shut(sock)

    def forget(self) -> None:
        """Drop the sockets of finished requests (they are closed; a later cut need not touch them)."""
        with self._lock:
            self._sockets.clear()

    def cut(self) -> None:
        with self._lock:
            self.cut_off = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


@contextlib.contextmanager
def cut_after(seconds: float, cutter: SocketCutter | None = None, then: Callable[[], None] = lambda: None):
    """A SocketCutter that cuts when `seconds` have passed, unless the block ended first."""
    cutter = cutter or SocketCutter()

    def on_time() -> None:
        cutter.cut()
        then()

    timer = threading.Timer(max(seconds, 0.0), on_time)
    timer.daemon = True
    timer.start()
    try:
        yield cutter
    finally:
        timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by its request: nothing to cut
        sock.shutdown(socket.SHUT_RDWR)
