"""Slack's Web API on loopback (chat.postMessage, chat.update, chat.delete, conversations.*, reactions.get), with
scripted failures first; and what Slack would show wrong in the messages it holds."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


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
    # reactions.get: ts -> {emoji name: [user ids]}, as people reacted to the messages (react() adds one)
    reactions: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def handle(self, path: str, headers: dict, body: dict):
        self.arrivals.append((time.monotonic(), path))
        self._slowly()
        self.requests += 1
        if self.script:
            return self.script.pop(0)
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if path.endswith("/auth.test"):
            return 200, {"ok": True, "team": "Homelab", "user": "overnight", "team_id": "T0HOMELAB"}, {}
        if "/conversations.replies" in path:
            return self._replies(path, body)
        if path.endswith("/chat.delete"):
            return self._delete(body)
        if "/reactions.get" in path:
            return self._reactions(path, body)
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

    def react(self, ts: str, name: str, user: str = "U0OWNER") -> None:
        self.reactions.setdefault(ts, {}).setdefault(name, []).append(user)

    def _reactions(self, path: str, body: dict):
        """reactions.get as Slack answers it: the message, with its `reactions` only when it has some."""
        from urllib.parse import parse_qsl, urlsplit

        query = {**dict(parse_qsl(urlsplit(path).query)), **body}
        ts = query.get("timestamp")
        if query.get("channel") != "C0OVERNIGHT" or ts not in self.messages:
            return 200, {"ok": False, "error": "message_not_found"}, {}
        message = {"type": "message", "ts": ts, "text": self.messages[ts].get("text")}
        reacted = [
            {"name": name, "users": users, "count": len(users)} for name, users in self.reactions.get(ts, {}).items()
        ]
        message |= {"reactions": reacted} if reacted else {}
        return 200, {"ok": True, "type": "message", "channel": "C0OVERNIGHT", "message": message}, {}

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
