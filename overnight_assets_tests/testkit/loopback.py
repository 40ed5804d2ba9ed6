"""The HTTP server the fakes are served by, on an ephemeral 127.0.0.1 port, and replies written by
hand: a body that is not JSON, trickled a byte at a time, never sent, or never ending."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handle = Callable[[str, dict, dict], tuple[int, Any, dict]]  # (path, headers, body) -> (status, payload, headers)


class LoopbackServer:
    """A ThreadingHTTPServer on an ephemeral loopback port, answering JSON from `handle`."""

    def __init__(self, handle: Handle, protocol: str = "HTTP/1.0"):

        class Handler(BaseHTTPRequestHandler):
            protocol_version = protocol  # "HTTP/1.1" keeps connections alive, as Ollama does

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = _decode_body(raw, self.headers.get("Content-Type", ""))
                status, payload, headers = handle(self.path, dict(self.headers), body)
                if isinstance(payload, (RawReply, EndlessReply)):
                    return payload.send(self)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serving(fake, path: str = "", protocol: str = "HTTP/1.0") -> Iterator:
    """The fake (a FakeOllama, a FakeSlack) served until the block ends, its `url` set to the
    server's plus `path` (Slack's clients take the API's base, "/api/")."""
    server = LoopbackServer(fake.handle, protocol)
    fake.url = server.url + path
    try:
        yield fake
    finally:
        server.close()


@dataclass
class EndlessReply:
    """A 200 whose JSON body never ends (no Content-Length), until the client hangs up."""

    counter: Any  # its endless_sent counts the bytes written

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        chunk = b" " * 65536
        try:
            handler.wfile.write(b'{"model": "m", "message": {"role": "assistant", "content": "')
            while True:
                handler.wfile.write(chunk)
                self.counter.endless_sent += len(chunk)
        except OSError:
            pass  # the client hung up


@dataclass
class RawReply:
    """A 200 written by hand: a body that is not JSON, trickled a byte at a time, or never sent."""

    body: bytes = b""
    content_type: str = "application/json"
    trickle_s: float = 0.0  # a byte every this many seconds
    hang: bool = False  # read the request, answer nothing, until the client hangs up
    on_end: Callable[[], None] = lambda: None

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        try:
            if self.hang:
                return _wait_for_hang_up(handler.connection)
            handler.send_response(200)
            handler.send_header("Content-Type", self.content_type)
            handler.send_header("Content-Length", str(len(self.body)))
            handler.end_headers()
            if not self.trickle_s:
                return handler.wfile.write(self.body)
            for index in range(len(self.body)):
                handler.wfile.write(self.body[index : index + 1])
                time.sleep(self.trickle_s)  # the server being slow, not the test waiting
        except OSError:
            pass  # the client hung up, as it should at its deadline
        finally:
            self.on_end()


def _wait_for_hang_up(connection, limit_s: float = 60.0) -> None:
    import select

    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        readable, _, _ = select.select([connection], [], [], 0.1)
        if readable and not connection.recv(1024):
            return


def _decode_body(raw: bytes, content_type: str) -> dict:
    if not raw:
        return {}
    if "json" in content_type:
        return json.loads(raw)
    from urllib.parse import parse_qsl

    return dict(parse_qsl(raw.decode()))


def free_port() -> int:
    """A loopback port nothing listens on now (a server started next binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
