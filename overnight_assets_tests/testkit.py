"""The tests' shared kit: loopback servers for the network boundary, and config helpers.

The real `ollama` and `slack_sdk` clients talk to these small HTTP servers on 127.0.0.1; they
answer in the real APIs' formats. Nothing here reaches outside the machine. A module of its own,
not conftest.py, so tests and benchmarks import it by a name no other folder's conftest shadows.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "overnight_assets" / "demo" / "samples"


@contextlib.contextmanager
def dagster_daemon(env: dict | None = None):
    """A real `dagster-daemon run` on the repo's workspace.yaml (env: its environment, default this
    process's), stopped with its whole process group on exit."""
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield daemon
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a loaded machine: the daemon's children may not stop in time
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()


def poll(predicate: Callable[[], Any], timeout_s: float = 120.0, what: str = "a condition", every_s: float = 0.05):
    """predicate's first truthy answer, asked every every_s; a clear failure after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting for {what}"
        time.sleep(every_s)
    return result


def require_or_skip(available: bool, reason: str) -> None:
    """A missing server skips with the reason outside CI and fails in CI."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


class _Server:
    """A ThreadingHTTPServer on an ephemeral loopback port, with JSON helpers."""

    def __init__(self, handle: Callable[[str, dict, dict], tuple[int, dict, dict]], protocol: str = "HTTP/1.0"):

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


HOSTILE_HTTP = ("http_500", "http_429", "redirect_loop", "endless")


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


ANSWER_TEXT = "A loopback model's answer."


def fill_schema(schema: dict, overrides: dict[str, Any], defs: dict | None = None, text: str = ANSWER_TEXT) -> Any:
    """The smallest value valid for a JSON schema, with chosen field values (and `text` in every other
    string); a model that obeys."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return fill_schema(defs[schema["$ref"].split("/")[-1]], overrides, defs, text)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return fill_schema(schema["anyOf"][0], overrides, defs, text)
    kind = schema.get("type")
    if kind == "object":
        return {
            name: overrides[name] if name in overrides else fill_schema(prop, overrides, defs, text)
            for name, prop in schema.get("properties", {}).items()
        }
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return True
    return text


@dataclass
class FakeOllama:
    """Ollama's /api/chat and /api/generate, answering from the request's JSON-schema `format`."""

    overrides: dict[str, Any] = field(default_factory=dict)  # field values the "model" chooses
    mode: str = "ok"  # ok | malformed | malformed_once | error
    delay_s: float = 0.0
    chats: list[dict] = field(default_factory=list)
    loads: list[dict] = field(default_factory=list)
    url: str = ""
    # hostile answers to /api/chat and /api/generate alike: not_json | wrong_shape | no_content |
    # not_object | trickle | hang; the first `hostile_times` answers only, when set
    hostile: str = ""
    hostile_times: int | None = None
    # hostile HTTP answers (issue 7's tour): http_500 | http_429 | redirect_loop | endless (a 200 whose
    # body never ends); a model answered 404 as Ollama does for one not pulled
    missing_model: str | None = None
    error_text: str = "model crashed"  # the error an http_* answer carries
    endless_sent: int = 0  # bytes of endless answers written before the client hung up
    on_chat: Callable[[dict], None] | None = None  # run on each /api/chat request first (a test kills its client there)
    hostile_given: int = 0
    trickle_s: float = 0.5
    open_replies: int = 0  # trickling or hanging answers still going
    basic_auth: tuple[str, str] | None = None  # credentials every request must carry, when set
    # the gpu pool measured where it matters: requests being served right now, and the most ever
    # served at once; `hold`, when given, keeps every request waiting until it is set
    in_flight: int = 0
    max_in_flight: int = 0
    hold: threading.Event | None = None
    _flight_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    answer_text: str = ANSWER_TEXT  # what the "model" writes in every free-text field no override names

    def handle(self, path: str, headers: dict, body: dict):
        with self._serving():
            return self._handle(path, headers, body)

    @contextlib.contextmanager
    def _serving(self):
        with self._flight_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hold is not None:
                self.hold.wait(timeout=300)
            yield
        finally:
            with self._flight_lock:
                self.in_flight -= 1

    def _handle(self, path: str, headers: dict, body: dict):
        if self.basic_auth and _basic_auth(headers) != self.basic_auth:
            return 401, {"error": "unauthorized"}, {}
        if self.missing_model and body.get("model") == self.missing_model:
            return 404, {"error": f"model '{self.missing_model}' not found, try pulling it first"}, {}
        status, payload, more = self.answer(path, headers, body)
        if status == 200 and self.hostile and (self.hostile_times is None or self.hostile_given < self.hostile_times):
            self.hostile_given += 1
            if self.hostile in HOSTILE_HTTP:
                return self.hostile_http(path)
            payload = self.hostile_reply(path, payload)
        return status, payload, more

    def hostile_http(self, path: str):
        if self.hostile == "redirect_loop":
            return 307, {}, {"Location": path}  # 307 keeps the POST and its body, round and round
        if self.hostile == "endless":
            return 200, EndlessReply(self), {}
        return int(self.hostile.removeprefix("http_")), {"error": self.error_text}, {}

    def hostile_reply(self, path: str, payload: dict):
        if self.hostile == "not_json":
            return RawReply(b"<html><body>502 Bad Gateway</body></html>", "text/html")
        if self.hostile == "wrong_shape":  # no `message` for a chat, no `done` for a load
            return {"model": payload["model"], "created_at": payload["created_at"]}
        if self.hostile == "no_content":
            return {**payload, "message": {"role": "assistant"}} if "message" in payload else payload
        if self.hostile == "not_object":
            return ["not", "an", "object"]
        if self.hostile in ("trickle", "hang"):  # a valid answer, a byte every trickle_s; or nothing
            self.open_replies += 1
            return RawReply(
                json.dumps(payload).encode(),
                trickle_s=self.trickle_s,
                hang=self.hostile == "hang",
                on_end=self._reply_ended,
            )
        raise ValueError(f"unknown hostile mode {self.hostile!r}")

    def _reply_ended(self) -> None:
        self.open_replies -= 1

    def answer(self, path: str, headers: dict, body: dict):
        if self.delay_s:
            time.sleep(self.delay_s)  # the server being slow, not the test waiting
        if path == "/api/generate":
            self.loads.append(body)
            return (
                200,
                {"model": body["model"], "created_at": _now(), "response": "", "done": True, "done_reason": "load"},
                {},
            )
        if path != "/api/chat":
            return 404, {"error": f"unknown path {path}"}, {}
        self.chats.append(body)
        if self.on_chat:
            self.on_chat(body)
        if self.mode == "error":
            return 500, {"error": "model crashed"}, {}
        malformed = self.mode == "malformed" or (self.mode == "malformed_once" and len(self.chats) == 1)
        content = (
            "I think it is fine!"
            if malformed
            else json.dumps(fill_schema(body.get("format") or {}, self.overrides, text=self.answer_text))
        )
        message = {"role": "assistant", "content": content}
        return (
            200,
            {"model": body["model"], "created_at": _now(), "message": message, "done": True, "done_reason": "stop"},
            {},
        )


@dataclass
class FakeSlack:
    """Slack Web API's chat.postMessage and chat.update, with scripted failures first."""

    token: str = "xoxb-test-token"
    script: list[tuple[int, dict, dict]] = field(default_factory=list)  # answered before normal work
    messages: dict[str, dict] = field(default_factory=dict)  # ts -> message
    posts: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    requests: int = 0
    url: str = ""
    # once per partition (delivery claims): a slow Slack, a hook run once a post is stored (a test
    # kills its client there), conversations.history with message metadata, conversations.list
    delay_s: float = 0.0
    after_post: Callable[[dict], None] | None = None
    history_answer: dict | None = None  # answered to every conversations.history when set: junk, a cursor loop
    before_post: Callable[[dict], None] | None = None  # run before a post is stored; raising drops it unstored
    stored_then: list[tuple[int, dict, dict]] = field(
        default_factory=list
    )  # answers to posts stored anyway (a proxy's 504)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # the thread (a message past 50 blocks goes on in replies): chat.delete, conversations.replies;
    # and when each request arrived (time.monotonic(), path), to see waits from the server's side
    deleted: list[str] = field(default_factory=list)
    arrivals: list[tuple[float, str]] = field(default_factory=list)

    def handle(self, path: str, headers: dict, body: dict):
        self.arrivals.append((time.monotonic(), path))
        self._slowly()
        self.requests += 1
        if self.script:
            return self.script.pop(0)
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if "/conversations.replies" in path:
            return self._replies(path, body)
        if path.endswith("/chat.delete"):
            return self._delete(body)
        if "/conversations." in path:
            return self._conversations(path, body)
        if path.endswith("/chat.postMessage"):
            if self.before_post:
                self.before_post(body)
            with self._lock:  # a ts is the post's time, as Slack's; concurrent posts get distinct ones
                ts = f"{max(time.time(), float(max(self.messages, key=float, default=0)) + 1e-6):.6f}"
                self.posts.append(body)
                self.messages[ts] = body
            if self.after_post:
                self.after_post(body)
            if self.stored_then:
                return self.stored_then.pop(0)
            return 200, {"ok": True, "channel": "C0OVERNIGHT", "ts": ts, "message": {"text": body.get("text")}}, {}
        if path.endswith("/chat.update"):
            if body.get("ts") not in self.messages or body.get("channel") != "C0OVERNIGHT":
                return 200, {"ok": False, "error": "message_not_found"}, {}
            self.updates.append(body)
            self.messages[body["ts"]] = {**body, **_in_thread(self.messages[body["ts"]])}
            return 200, {"ok": True, "channel": body["channel"], "ts": body["ts"]}, {}
        return 200, {"ok": False, "error": "unknown_method"}, {}

    def _slowly(self) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)  # the server being slow, not the test waiting

    def _conversations(self, path: str, body: dict):
        """conversations.list knows one channel; conversations.history answers newest first, with
        each message's metadata only when include_all_metadata is set, as Slack does."""
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(path)
        query = {**dict(parse_qsl(parts.query)), **body}  # slack-sdk sends a form body; Slack takes both
        if parts.path.endswith("/conversations.list"):
            channels = [{"id": "C0OVERNIGHT", "name": "overnight", "is_channel": True}]
            return 200, {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}, {}
        if not parts.path.endswith("/conversations.history"):
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if self.history_answer is not None:
            return 200, self.history_answer, {}
        if query.get("channel") != "C0OVERNIGHT":
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        with_metadata = query.get("include_all_metadata") in ("1", "true")
        oldest = float(query.get("oldest") or 0)
        messages = [
            {
                "type": "message",
                "ts": ts,
                "text": message.get("text"),
                **({"metadata": message["metadata"]} if with_metadata and message.get("metadata") else {}),
            }
            for ts, message in sorted(self.messages.items(), key=lambda item: -float(item[0]))
            if float(ts) > oldest and message.get("thread_ts") in (None, ts)  # replies are not in the history
        ]
        return 200, {"ok": True, "messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}, {}

    def thread(self, parent: str) -> list[tuple[str, dict]]:
        """(ts, message) of each reply in a message's thread, oldest first."""
        in_order = sorted(self.messages.items(), key=lambda item: float(item[0]))
        return [(ts, message) for ts, message in in_order if message.get("thread_ts") == parent and ts != parent]

    def _replies(self, path: str, body: dict):
        """conversations.replies: the parent, then its replies oldest first; metadata as in the history."""
        from urllib.parse import parse_qsl, urlsplit

        query = {**dict(parse_qsl(urlsplit(path).query)), **body}
        parent = query.get("ts")
        if query.get("channel") != "C0OVERNIGHT" or parent not in self.messages:
            return 200, {"ok": False, "error": "thread_not_found"}, {}
        with_metadata = query.get("include_all_metadata") in ("1", "true")
        messages = [
            {
                "type": "message",
                "ts": ts,
                "thread_ts": parent,
                **({"metadata": m["metadata"]} if with_metadata and "metadata" in m else {}),
            }
            for ts, m in [(parent, self.messages[parent]), *self.thread(parent)]
        ]
        return 200, {"ok": True, "messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}, {}

    def _delete(self, body: dict):
        if body.get("ts") not in self.messages or body.get("channel") != "C0OVERNIGHT":
            return 200, {"ok": False, "error": "message_not_found"}, {}
        del self.messages[body["ts"]]
        self.deleted.append(body["ts"])
        return 200, {"ok": True, "channel": body["channel"], "ts": body["ts"]}, {}


# --- the Slack payload, checked as Slack reads it ----------------------------------------------

SLACK_MAX_BLOCKS, SLACK_SECTION_CHARS, SLACK_HEADER_CHARS, SLACK_CONTEXT_ELEMENTS = 50, 3000, 150, 10
_MARKDOWN_LINK = re.compile(r"\[[^\]\n]*\]\([^)\s]*\)")
_ANGLED = re.compile(r"<([^<>]*)>")
_PING = re.compile(r"@(channel|here|everyone)\b|<!", re.IGNORECASE)
_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def slack_payload_problems(slack: FakeSlack, known_urls: set[str]) -> list[str]:
    """What Slack would show wrong in the messages it holds now (posts as updated, thread replies
    included): Markdown syntax in mrkdwn, a `<...>` that is not an http(s) link to a known URL, a
    ping, a raw `&`, a block or message over Slack's limits. Empty when all is well."""
    problems = []
    for ts, message in slack.messages.items():
        blocks = message.get("blocks") or []
        if len(blocks) > SLACK_MAX_BLOCKS:
            problems.append(f"{ts}: {len(blocks)} blocks, Slack takes {SLACK_MAX_BLOCKS}")
        for number, block in enumerate(blocks):
            problems += [
                f"{ts} block {number} ({block['type']}): {problem}" for problem in _block_problems(block, known_urls)
            ]
    return problems


def slack_links(slack: FakeSlack) -> set[str]:
    """Every URL linked (<url|label>) in the messages Slack holds now."""
    return {match.split("|", 1)[0] for text in _mrkdwn_texts(slack) for match in _ANGLED.findall(text)}


def _mrkdwn_texts(slack: FakeSlack) -> list[str]:
    texts = []
    for message in slack.messages.values():
        for block in message.get("blocks") or []:
            objects = [block.get("text") or {}, *block.get("elements", [])]
            texts += [obj["text"] for obj in objects if obj.get("type") == "mrkdwn"]
    return texts


def _block_problems(block: dict, known_urls: set[str]) -> list[str]:
    if block["type"] == "header":
        text = block["text"]
        return [f"header is {text['type']}, not plain_text"] * (text["type"] != "plain_text") + [
            f"header of {len(text['text'])} characters"
        ] * (len(text["text"]) > SLACK_HEADER_CHARS)
    if block["type"] == "divider":
        return []
    if block["type"] == "context":
        elements = block.get("elements", [])
        over = [f"{len(elements)} context elements"] if len(elements) > SLACK_CONTEXT_ELEMENTS else []
        return over + [p for element in elements for p in _mrkdwn_problems(element, known_urls)]
    if block["type"] == "section":
        return _mrkdwn_problems(block["text"], known_urls)
    return [f"unexpected block type {block['type']}"]


def _mrkdwn_problems(text_object: dict, known_urls: set[str]) -> list[str]:
    text = text_object["text"]
    problems = [f"{len(text)} characters, over {SLACK_SECTION_CHARS}"] if len(text) > SLACK_SECTION_CHARS else []
    if not text.strip():
        problems.append("empty text")
    if text_object["type"] != "mrkdwn":
        return problems
    problems += [f"Markdown link {found!r}" for found in _MARKDOWN_LINK.findall(text)]
    problems += ["Markdown bold `**`"] * ("**" in text)
    problems += [f"ping {found.group()!r}" for found in _PING.finditer(text)]
    problems += [f"raw & at {found.start()}" for found in _AMPERSAND.finditer(text)]
    for inside in _ANGLED.findall(text):
        url, bar, label = inside.partition("|")
        if not bar or not label or not url.startswith(("http://", "https://")) or url not in known_urls:
            problems.append(f"<{inside}> is not a link to a known http(s) URL")
    leftover = _ANGLED.sub("", text)
    problems += [f"stray {char!r}" for char in "<>" if char in leftover]
    return problems


def _in_thread(message: dict) -> dict:
    """An update keeps the message where it was: a reply stays in its thread."""
    return {"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}


def _basic_auth(headers: dict) -> tuple[str, str] | None:
    import base64

    value = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
    if not value.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return user, password


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_config(tmp_path: Path, host: Path, llm_url: str, slack_url: str | None = None, **overrides) -> Path:
    config = {
        "timezone": "Europe/Bucharest",
        "home": str(tmp_path / "home"),
        "llm": {"host": llm_url, "timeout_s": 5},
        "slack": {"channel": "#overnight", "token_env": "OVERNIGHT_TEST_SLACK_TOKEN", "base_url": slack_url},
        "triage": {
            "docker": None,
            "auth_log": {"path": str(host / "auth.log")},
            "ports": {"proc_net": str(host / "proc_net"), "allowed": ["tcp/22", "tcp/443"]},
            "integrity": {"paths": [str(host / "watched" / "**")]},
            "disk": {"paths": [str(host)], "amber_pct": 99.8, "red_pct": 99.9},
            "dagster_runs": {"lookback_hours": 24},
        },
    }
    for dotted, value in overrides.items():
        node = config
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp_path / "overnight.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# --- another process holding Cortex open (someone reading it with `duckdb`) ------------------

_HOLD_CORTEX = """
import sys, duckdb
db = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read-only")
print("locked", flush=True)
sys.stdin.readline()
db.close()
"""


def hold_cortex(path: Path, read_only: bool = True):
    """A process holding the DuckDB file open (read-only: a `duckdb -readonly` shell) until `release`."""
    import subprocess
    import sys

    mode = "read-only" if read_only else "read-write"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_CORTEX, str(path), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def release_cortex(holder) -> None:
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=30)
