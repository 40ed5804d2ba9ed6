"""Total deadlines for calls to outside systems. Their clients' timeouts are per phase (connect,
each read, each write: httpx, urllib, requests), so a server sending a byte now and then never
trips them.

`call_within` runs a call in a thread and gives up on it at the deadline: for clients whose sockets
cannot be reached, the call is left behind to end on its own (use it for calls that are safe to
abandon). For httpx, a SocketCutter ends the call itself:
a SocketCutter is handed to a request as httpcore's documented `trace` extension; it records each
socket the request connects, and `cut()` shuts them down, which wakes a blocked read or write at
once (closing alone does not wake a read that waits for a silent server). A socket connected after
the cut is shut as it appears. Only a request whose connection was made for it can be cut: a
client that cuts must not keep connections alive between requests.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

Result = TypeVar("Result")


class PastDeadline(TimeoutError):
    """A call given up at its deadline (an OSError: what callers already handle for a network failure)."""

    def __init__(self, message: str, seconds: float):
        super().__init__(message)
        self.seconds = seconds


def call_within(seconds: float, call: Callable[[], Result], name: str) -> Result:
    """call()'s result, or its exception, within `seconds`; PastDeadline after that, the call left
    running in a daemon thread (it holds nothing the caller needs)."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # handed to the caller's thread, which decides
            outcome["error"] = error

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise PastDeadline(f"{name}: no complete answer within {seconds:g} s", seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


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
