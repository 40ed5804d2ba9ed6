"""`overnight cortex serve`: the one process that holds the Cortex DuckDB file, serving units of work to
the steps of every host (memory.server_url), so GPU steps can run on the GPU host.

DuckDB allows one writing process, on one kernel: so that process is this one, for its whole life, on
the host whose disk has the file. A client opens a session (one unit of work), executes statements in
it, and closes it. Sessions run one at a time, as the file lock ran them: a unit of work stays
exclusive. A session waits for the one before it up to the client's `lock_wait_s`; a session whose
client went quiet (killed mid-unit) is rolled back and released after `lease_s` idle, so no one waits
forever; closing a session rolls back what it left uncommitted.

The protocol is JSON over HTTP POST (cortex_wire.py has the values, errors and client), every request
with `Authorization: Bearer <token>`, the token from the variable memory.server_token_env names.
The token lets its holder run any SQL as this process's user: bind to 127.0.0.1 (the default) or to
an address only the other host reaches, behind a firewall.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from overnight_assets.resources.cortex_wire import decode_params, error_body

LEASE_S = 60.0  # a session idle this long is its client gone: rolled back, released
MAX_RESULT_ROWS = 1_000_000  # a statement returning more is refused: the server's memory stays bounded
FETCH_ROWS = 10_000
MAX_REQUEST_BYTES = 256 * 2**20  # a request body (an executemany's rows) larger is refused unread
_log = logging.getLogger(__name__)


class Session:
    def __init__(self, connection, holder: str, read_only: bool):
        self.id, self.holder = secrets.token_urlsafe(16), holder
        self.cursor = connection.cursor()  # its own transaction context on the one database
        self.lock = threading.Lock()  # one statement at a time, and never reaped mid-statement
        self.last_used = time.monotonic()
        if read_only:
            self.cursor.execute("BEGIN TRANSACTION READ ONLY")

    def end(self) -> None:
        import duckdb

        try:
            self.cursor.execute("ROLLBACK")  # what the client left uncommitted
        except duckdb.Error:
            pass  # no transaction open
        self.cursor.close()


class Sessions:
    """The one session at a time, its waiters, and the lease of a quiet one."""

    def __init__(self, connection, lease_s: float):
        self.connection, self.lease_s = connection, lease_s
        self._changed = threading.Condition()
        self.current: Session | None = None

    def open(self, holder: str, wait_s: float, read_only: bool) -> Session | None:
        deadline = time.monotonic() + max(wait_s, 0.0)
        with self._changed:
            while self.current is not None:
                self._expire_quiet()
                left = deadline - time.monotonic()
                if self.current is None:
                    break
                if left <= 0:
                    return None
                self._changed.wait(min(left, 1.0))
            self.current = Session(self.connection, holder, read_only)
            return self.current

    def held(self, session_id: str) -> Session | None:
        with self._changed:
            current = self.current
            return current if current is not None and hmac.compare_digest(current.id, session_id) else None

    def close(self, session: Session) -> None:
        with self._changed:
            if self.current is not session:
                return
            session.end()
            self.current = None
            self._changed.notify_all()

    def expire_quiet(self) -> None:
        with self._changed:
            self._expire_quiet()

    def _expire_quiet(self) -> None:
        session = self.current
        if session is None or not session.lock.acquire(blocking=False):
            return  # none, or a statement is running: not quiet
        try:
            idle = time.monotonic() - session.last_used
            if idle >= self.lease_s:
                session.end()
                self.current = None
                self._changed.notify_all()
                _log.warning(
                    "Cortex session of %s idle for %.0f s (lease %g s): rolled back and released",
                    session.holder,
                    idle,
                    self.lease_s,
                )
        finally:
            session.lock.release()


def execute(session: Session, request: dict) -> dict:
    """One statement (or one executemany) in the session; its columns and every row."""
    with session.lock:
        try:
            sql = request.get("sql")
            if not isinstance(sql, str):
                raise ValueError('an /execute request needs "sql", a string')
            if "rows" in request:
                cursor = session.cursor.executemany(sql, [decode_params(row) for row in request["rows"]])
            else:
                cursor = session.cursor.execute(sql, decode_params(request.get("params")))
            if cursor.description is None:
                return {"columns": None, "rows": []}
            from overnight_assets.resources.cortex_wire import encode

            columns = [[column[0], str(column[1])] for column in cursor.description]
            return {"columns": columns, "rows": encode(_bounded_rows(cursor))}
        finally:
            session.last_used = time.monotonic()


def _bounded_rows(cursor) -> list:
    """Every row of the result, or an error past MAX_RESULT_ROWS, read in pieces so it is refused before
    it all sits in memory (the unit of work stays open: the client may ask for less)."""
    rows: list = []
    while chunk := cursor.fetchmany(FETCH_ROWS):
        rows += chunk
        if len(rows) > MAX_RESULT_ROWS:
            raise ValueError(
                f"the statement returns more than {MAX_RESULT_ROWS:,} rows, more than the Cortex server sends: "
                "narrow it (WHERE, LIMIT) or aggregate"
            )
    return rows


class _BadRequest(ValueError):
    pass


class CortexHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a unit of work's statements share one connection
    disable_nagle_algorithm = True  # headers and body go as two writes: Nagle would hold the body ~40 ms
    server: CortexHTTPServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if not self._authorized():
            self.close_connection = True  # its body is left unread: the connection cannot carry another request
            self._answer(401, {"error": {"class": "Error", "message": "unauthorized"}})
            return
        try:
            request = self._request()
        except _BadRequest as error:
            self.close_connection = True  # the stream may be out of step with the requests: start afresh
            self._answer(
                400, {"error": {"class": "Error", "message": f"a malformed request to the Cortex server: {error}"}}
            )
            return
        route = {
            "/open": self._open,
            "/execute": self._execute,
            "/close": self._close,
            "/status": self._status,
            "/copy": self._copy,
        }
        if self.path not in route:
            self._answer(404, {"error": {"class": "Error", "message": f"no {self.path}"}})
            return
        try:
            self._answer(*route[self.path](request))
        except Exception as error:  # a DuckDB error, or a value it cannot take: the client raises it
            self._answer(400, error_body(error))

    def _request(self) -> dict:
        """The request's JSON object; a body whose length is not given right, or that is not one, is refused."""
        declared = self.headers.get("Content-Length") or "0"
        if not declared.isdigit():
            raise _BadRequest(f"Content-Length is {declared[:40]!r}, not a number of bytes")
        if int(declared) > MAX_REQUEST_BYTES:
            raise _BadRequest(f"the body is over {MAX_REQUEST_BYTES // 2**20} MiB")
        raw = self.rfile.read(int(declared))
        if len(raw) < int(declared):
            raise _BadRequest(f"the body ended after {len(raw)} of its {declared} bytes")
        try:
            request = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise _BadRequest("the body is not JSON") from None
        if not isinstance(request, dict):
            raise _BadRequest(f"the body is a JSON {type(request).__name__}, not an object")
        return request

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode("utf-8"), f"Bearer {self.server.token}".encode())

    def _open(self, request: dict) -> tuple[int, dict]:
        sessions = self.server.sessions
        session = sessions.open(
            str(request.get("holder", "?")), float(request.get("wait_s", 0)), request.get("read_only")
        )
        if session is None:
            current = sessions.current
            return 423, {"holder": current.holder if current else "another session"}
        return 200, {"session": session.id}

    def _execute(self, request: dict) -> tuple[int, dict]:
        if (session := self._held(request)) is None:
            return self._expired()
        return 200, execute(session, request)

    def _copy(self, request: dict) -> tuple[int, dict]:
        from overnight_assets.resources.cortex import copy_database

        if (session := self._held(request)) is None:
            return self._expired()
        with session.lock:
            try:
                source = session.cursor.execute("SELECT current_database()").fetchone()[0]
                return 200, {"path": str(copy_database(session.cursor, source, request["destination"]))}
            finally:
                session.last_used = time.monotonic()

    def _held(self, request: dict) -> Session | None:
        return self.server.sessions.held(str(request.get("session", "")))

    def _expired(self) -> tuple[int, dict]:
        lease = self.server.sessions.lease_s
        return 410, {
            "message": f"this Cortex session is not open on the server: it was idle past the server's lease ({lease:g} s) "
            "or the server restarted since it opened; what it did uncommitted was rolled back"
        }

    def _close(self, request: dict) -> tuple[int, dict]:
        if session := self._held(request):
            self.server.sessions.close(session)
        return 200, {}

    def _status(self, _request: dict) -> tuple[int, dict]:
        return 200, {"path": str(self.server.path), "exists": self.server.path.exists()}

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
        pass  # a request line says nothing worth a line per statement; errors reach the client


class CortexHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], path: Path, token: str, sessions: Sessions):
        super().__init__(address, CortexHandler)
        self.path, self.token, self.sessions = path, token, sessions


def serve(path: Path, token: str, bind: str, port: int, lease_s: float = LEASE_S, ready=print) -> None:
    """Migrate Cortex, hold it, and serve it until SIGTERM/SIGINT; `ready(line)` hears where it listens."""
    import duckdb

    from overnight_assets.resources.cortex import Cortex

    if not token:
        raise ValueError("the Cortex server needs a token")
    cortex = Cortex(path)
    cortex._migrate_once()
    connection = cortex._open(read_only=False)  # held until the server stops: the only writer
    sessions = Sessions(connection, lease_s)
    server = CortexHTTPServer((bind, port), cortex.path, token, sessions)
    stop = threading.Event()
    reaper = threading.Thread(target=_reap, args=(sessions, stop), daemon=True)
    reaper.start()
    if threading.current_thread() is threading.main_thread():  # SIGTERM (systemd, docker stop): close the file
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    ready(f"Cortex {cortex.path} served on http://{bind}:{server.server_address[1]} (lease {lease_s:g} s)")
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        with sessions._changed:
            if sessions.current is not None:
                sessions.current.end()
                sessions.current = None
        try:
            connection.close()  # checkpoints the file
        except duckdb.Error as error:
            _log.warning("closing Cortex: %s", error)


def _reap(sessions: Sessions, stop: threading.Event) -> None:
    while not stop.wait(min(1.0, sessions.lease_s / 4)):
        sessions.expire_quiet()
