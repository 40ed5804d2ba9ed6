"""Ollama's /api/chat and /api/generate on loopback, answering from the request's JSON-schema
`format`, or with whatever hostile answer the test chose."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from overnight_assets_tests.testkit.loopback import EndlessReply, RawReply

HOSTILE_HTTP = ("http_500", "http_429", "redirect_loop", "endless")

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
    pulled: list[str] = field(default_factory=lambda: ["qwen3.5:latest", "gemma4:latest"])  # what /api/tags lists

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
        if path == "/api/tags":
            return 200, {"models": [{"name": name, "model": name, "size": 1} for name in self.pulled]}, {}
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


def _basic_auth(headers: dict) -> tuple[str, str] | None:
    import base64

    value = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
    if not value.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return user, password


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
