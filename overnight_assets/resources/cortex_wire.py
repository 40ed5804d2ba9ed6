"""Cortex over the network: the values, errors and client of `overnight cortex serve` (cortex_server.py).

A value crosses as JSON; what JSON has no type for is tagged, {"$t": tag, "v": text}: datetimes
(with their zone), dates, times, intervals, decimals, bytes, UUIDs, structs. A DuckDB error on the
server comes back as the same duckdb exception class with its message, so `except
duckdb.ConstraintException` reads the same against either Cortex.

The client (`RemoteCortex`) is `Cortex.connect()`'s connection when `memory.server_url` is set: one
session per unit of work, serialized by the server as the file lock serialized them, so a unit of
work is still exclusive (briefing/delivery.py's claim relies on it).
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OPEN_POLL_S = 5.0  # a wait for the session is asked in pieces this long, so the client can say it is waiting
STATEMENT_TIMEOUT_S = 3600.0  # one statement (consolidation's largest) never takes this long
TOKEN_HEADER = "Authorization"


class CortexServerError(ConnectionError):
    """The Cortex server could not be reached or refused the client (it is an OSError: the CLI says it in one line)."""


class CortexSessionExpired(RuntimeError):
    """The session stayed idle past the server's lease: the server rolled its work back."""


# --- values ------------------------------------------------------------------------------------


def encode(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dt.datetime):
        zone = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None)
        return {"$t": "datetime", "v": value.isoformat(), "zone": zone}
    if isinstance(value, dt.date):
        return {"$t": "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$t": "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$t": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {"$t": "decimal", "v": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$t": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {"$t": "uuid", "v": str(value)}
    if isinstance(value, Mapping):
        return {"$t": "struct", "v": [[encode(key), encode(item)] for key, item in value.items()]}
    raise TypeError(f"Cortex cannot send a {type(value).__name__} to its server: {value!r:.80}")


def decode(value):
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    tag, text = value["$t"], value["v"]
    if tag == "datetime":
        moment = dt.datetime.fromisoformat(text)
        return moment.astimezone(_zone(value.get("zone"))) if moment.tzinfo and value.get("zone") else moment
    if tag == "struct":
        return {decode(key): decode(item) for key, item in text}
    return _DECODERS[tag](text)


_DECODERS: dict[str, Callable] = {
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timedelta": lambda parts: dt.timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2]),
    "decimal": Decimal,
    "bytes": base64.b64decode,
    "uuid": uuid.UUID,
}


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # astimezone(None): this machine's zone, the same instant


def encode_params(params):
    """A statement's parameters: None, a list (`?`) or a mapping (`$name`)."""
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {"named": {str(name): encode(value) for name, value in params.items()}}
    return {"positional": encode(list(params))}


def decode_params(params):
    if params is None:
        return None
    if "named" in params:
        return {name: decode(value) for name, value in params["named"].items()}
    return decode(params["positional"])


def error_body(error: Exception) -> dict:
    return {"error": {"class": type(error).__name__, "message": str(error)}}


def raise_error(body: dict) -> None:
    """The exception the server met, as the same class: a duckdb one (duckdb.Error for a name it does not
    have), FileExistsError from a copy."""
    import duckdb

    error = body["error"]
    if error["class"] == "FileExistsError":
        raise FileExistsError(error["message"])
    cls = getattr(duckdb, error["class"], None)
    if not (isinstance(cls, type) and issubclass(cls, duckdb.Error)):
        cls = duckdb.Error
    raise cls(error["message"])


# --- the client ---------------------------------------------------------------------------------


class ServerAddress:
    """Where Cortex is served (memory.server_url) and the variable holding its token (memory.server_token_env)."""

    def __init__(self, url: str, token_env: str):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"memory.server_url must be http(s)://host:port, not {url!r}")
        self.url, self.token_env, self._parts = url.rstrip("/"), token_env, parts

    def __repr__(self) -> str:
        return f"ServerAddress({self.url!r}, {self.token_env!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ServerAddress) and (self.url, self.token_env) == (other.url, other.token_env)

    def __hash__(self) -> int:
        return hash((self.url, self.token_env))

    def token(self, environ: Mapping[str, str] = os.environ) -> str:
        if not (token := environ.get(self.token_env)):
            raise CortexServerError(
                f"memory.server_url is set but {self.token_env} is not set: set it to the Cortex server's token"
            )
        return token

    def channel(self, timeout_s: float, environ: Mapping[str, str] = os.environ) -> Channel:
        return Channel(self, timeout_s, environ)


class Channel:
    """One keep-alive HTTP connection to the server; JSON in, (status, JSON) out."""

    def __init__(self, address: ServerAddress, timeout_s: float, environ: Mapping[str, str] = os.environ):
        parts = address._parts
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.address = address
        self._headers = {TOKEN_HEADER: f"Bearer {address.token(environ)}", "Content-Type": "application/json"}
        self._connection = kind(parts.hostname, parts.port, timeout=timeout_s)

    def call(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body or {}).encode("utf-8")
        try:
            self._connection.request("POST", path, body=data, headers=self._headers)
            response = self._connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            self._connection.close()
            raise CortexServerError(f"the Cortex server at {self.address.url} is not reachable: {error}") from None
        if response.status == 401:
            raise CortexServerError(
                f"the Cortex server at {self.address.url} refused the token in {self.address.token_env}"
            )
        return response.status, json.loads(payload or b"{}")

    def close(self) -> None:
        self._connection.close()


def holder_name() -> str:
    """Who holds a session, as a lock message names a holder: "PID 123 on gpu-box (python)"."""
    return f"PID {os.getpid()} on {socket.gethostname()} ({os.path.basename(sys.argv[0]) or 'python'})"


class RemoteResult:
    """What DuckDB's `execute` returns, as the code reads it: `fetchone`, `fetchall`, `description`."""

    def __init__(self, columns: list | None, rows: list):
        self.description = [(name, kind, None, None, None, None, None) for name, kind in columns] if columns else None
        self._rows = [tuple(decode(row)) for row in rows]
        self._next = 0

    def fetchone(self) -> tuple | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows


class RemoteCortex:
    """One session on the Cortex server: the `db` of `with cortex.connect() as db:`."""

    def __init__(self, channel: Channel, session: str):
        self._channel, self._session = channel, session

    def execute(self, sql: str, params=None) -> RemoteResult:
        return self._run({"sql": sql, "params": encode_params(params)})

    def executemany(self, sql: str, rows) -> RemoteResult:
        return self._run({"sql": sql, "rows": [encode_params(row) for row in rows]})

    def copy(self, destination: str) -> str:
        """Cortex copied by the server to `destination`, a path on the server's host."""
        status, answer = self._channel.call("/copy", {"session": self._session, "destination": destination})
        if status != 200:
            raise_error(answer)
        return answer["path"]

    def _run(self, body: dict) -> RemoteResult:
        status, answer = self._channel.call("/execute", {"session": self._session, **body})
        if status == 410:
            raise CortexSessionExpired(answer["message"])
        if status != 200:
            raise_error(answer)
        return RemoteResult(answer["columns"], answer["rows"])

    def close(self) -> None:
        try:
            self._channel.call("/close", {"session": self._session})
        finally:
            self._channel.close()


def open_session(
    address: ServerAddress, wait_s: float, read_only: bool, on_wait: Callable[[str], None], locked: Callable
) -> RemoteCortex:
    """A session of the server's, waited for up to `wait_s` in pieces (each wait said, as for the file's
    lock); `locked(holder, wait_s)` is the exception raised when it stays taken."""
    from overnight_assets.resources.cortex import NOTICE_AFTER_S, NOTICE_EVERY_S

    channel = address.channel(STATEMENT_TIMEOUT_S)
    started, notice_at = time.monotonic(), NOTICE_AFTER_S
    request = {"holder": holder_name(), "read_only": read_only}
    try:
        while True:
            waited = time.monotonic() - started
            piece = max(min(wait_s - waited, OPEN_POLL_S, max(notice_at - waited, 0.05)), 0.0)
            status, answer = channel.call("/open", {**request, "wait_s": piece})
            if status == 200:
                return RemoteCortex(channel, answer["session"])
            if status != 423:
                raise_error(answer)
            waited = time.monotonic() - started
            if waited >= wait_s:
                raise locked(answer["holder"], wait_s)
            if waited >= notice_at:
                on_wait(f"Cortex at {address.url} is held by {answer['holder']}: waited {waited:.0f} s of {wait_s:g} s")
                notice_at = waited + NOTICE_EVERY_S
    except BaseException:
        channel.close()
        raise
