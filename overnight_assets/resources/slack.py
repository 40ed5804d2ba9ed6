"""Slack through slack-sdk: the token from a named environment variable, retries built in.

429 answers are retried after their Retry-After; 5xx answers and dropped connections with
exponential backoff, except a chat.postMessage whose connection broke after it was sent or that got
a 5xx: Slack may have accepted it, so it is not retried blindly (after a 5xx the history is looked
at first; after a broken connection the next delivery looks). The
token is read at use time and never logged or put into metadata.

Every briefing carries Slack message metadata naming its partition (and, for a reply in its
thread, the part), so a delivery can find its own earlier post in conversations.history or
conversations.replies (scopes: chat:write, channels:history and channels:read; groups:* for a
private channel).

Whatever Slack (or a proxy in front of it) answers, a call ends and says why, in a SlackApiError or
an OSError, the two kinds the delivery keeps a message in the outbox for:
- a total deadline per call, its retries included (urllib's timeout is per socket read, so a
  trickling answer never trips it); a call past it is abandoned and retries nothing more;
- a Retry-After over MAX_RETRY_AFTER_S is not waited out here (the outbox retries later), and one
  in HTTP-date form is read (slack-sdk raises ValueError on it);
- an answer that cannot be decoded (a bad charset, bytes that are not UTF-8, a cut body) is a
  SlackUnreachable, never another exception that would fail the delivery;
- conversations.history and .list are read a bounded number of pages; junk there is a
  SlackHistoryUnreadable (a LookupError: the delivery posts, saying so);
- an error text from Slack, and slack-sdk's own log lines (which quote a non-JSON body), are
  redacted: a proxy's page may hold anything.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler

from overnight_assets.deadlines import PastDeadline, call_within
from overnight_assets.redaction import redact_secrets
from overnight_assets.secret_urls import redact_text, with_credentials

EVENT_TYPE = "overnight_briefing"  # the metadata event type of every morning message
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
CALL_DEADLINE_S = 120.0  # a whole call with its retries (three 30 s reads, or backoffs and rate-limit waits)
MAX_RETRY_AFTER_S = 60.0  # a longer wait is left to the outbox's next attempt
MAX_PAGES = 20  # of conversations.history (200 messages each) or .list (1000 channels each)
CLOCK_SKEW_S = 10 * 60  # a post is looked for in the history from this long before it was sent
Result = TypeVar("Result")


class SlackUnreachable(ConnectionError):
    """No usable answer from Slack in time: a timeout, or an answer that cannot be read."""


class SlackHistoryUnreadable(LookupError):
    """conversations.history or .list answered with something that is not a page of messages."""


def _redacted(text: str) -> str:
    return redact_secrets(redact_text(text))


class _RedactingFilter(logging.Filter):
    """slack-sdk logs a non-JSON body it received (up to 100 characters): redacted before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = _redacted(record.getMessage()), None
        return True


_SDK_LOGGER = logging.getLogger("overnight_assets.slack_sdk")
_SDK_LOGGER.addFilter(_RedactingFilter())


class _UntilGivenUp:
    """A retry handler that retries nothing once the call's deadline passed, and waits in a way the
    deadline ends (so an abandoned call cannot post later on its own)."""

    def __init__(self, gave_up: threading.Event, **kwargs):
        super().__init__(**kwargs)
        self._gave_up = gave_up

    def can_retry(self, *, state, request, response=None, error=None) -> bool:
        return not self._gave_up.is_set() and super().can_retry(
            state=state, request=request, response=response, error=error
        )

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        if self._gave_up.wait(self._wait_s(state, response)):
            return  # no next attempt: the SDK hands back what it has, the caller has moved on
        state.next_attempt_requested = True
        state.increment_current_attempt()

    def _wait_s(self, state, response) -> float:
        return self.interval_calculator.calculate_sleep_duration(state.current_attempt)


class _RateLimitRetryWithinReason(_UntilGivenUp, RateLimitErrorRetryHandler):
    """429s waited out for their Retry-After when it is at most MAX_RETRY_AFTER_S. slack-sdk reads
    only whole seconds (an HTTP date makes it raise ValueError) and would sleep any length asked."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and retry_after_s(response.headers) <= MAX_RETRY_AFTER_S
        )

    def _wait_s(self, state, response) -> float:
        return retry_after_s(response.headers) + random.random()


def retry_after_s(headers: dict) -> float:
    """Seconds a Retry-After header asks for (a number or an HTTP date); 1 when it is missing or unreadable."""
    values = next((value for name, value in headers.items() if name.lower() == "retry-after"), None)
    value = (values[0] if isinstance(values, list) else values or "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (email.utils.parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError, IndexError):
        return 1.0


class _AnyServerErrorRetryHandler(_UntilGivenUp, ServerErrorRetryHandler):
    """slack-sdk retries only 500 and 503; a proxy in front of Slack also answers 502 and 504. A
    chat.postMessage is not retried: Slack may have stored it (a gateway timing out while it did),
    so SlackPoster.post looks for it before posting again."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return (
            response is not None and 500 <= response.status_code < 600 and not request.url.endswith("/chat.postMessage")
        )


class _ConnectionErrorRetryUnlessSent(_UntilGivenUp, ConnectionErrorRetryHandler):
    """A chat.postMessage whose connection broke after sending may have been accepted; only a
    refused connection (nothing sent) is retried."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        refused = isinstance(error, URLError) and isinstance(error.reason, ConnectionRefusedError)
        if request.url.endswith("/chat.postMessage") and not refused:
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


def briefing_metadata(partition_key: str, part: int | None = None) -> dict:
    """The message's metadata; a reply in its thread names its part (1, 2...) too."""
    payload = {"partition": partition_key, **({"part": part} if part else {})}
    return {"event_type": EVENT_TYPE, "event_payload": payload}


class SlackPoster:
    """Posts and updates one channel's messages; raises SlackApiError (Slack said no) or
    SlackUnreachable (no usable answer in time) once retries are spent."""

    def __init__(
        self,
        token: str,
        channel: str,
        base_url: str | None = None,
        backoff_s: float = 1.0,
        deadline_s: float = CALL_DEADLINE_S,
    ):
        self._gave_up = threading.Event()
        retry: list[RetryHandler] = [
            _ConnectionErrorRetryUnlessSent(self._gave_up, max_retry_count=2),
            _RateLimitRetryWithinReason(self._gave_up, max_retry_count=3),
            _AnyServerErrorRetryHandler(
                self._gave_up,
                max_retry_count=3,
                interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=backoff_s),
            ),
        ]
        url = (with_credentials(base_url) or WebClient.BASE_URL).rstrip("/") + "/"
        self.client = WebClient(token=token, base_url=url, timeout=30, retry_handlers=retry, logger=_SDK_LOGGER)
        self.channel = channel
        self.deadline_s = deadline_s

    def post(self, text: str, blocks: list[dict], partition_key: str) -> tuple[str, str]:
        """(channel id, ts) of the posted message. After a server error Slack may have stored the post
        anyway: it is looked for in the history, and posted once more only when it is not there (a
        history that cannot be read leaves it to the next delivery, which looks again)."""
        started = time.time()
        try:
            return self._post_once(text, blocks, partition_key)
        except SlackApiError as error:
            if getattr(error.response, "status_code", 0) < 500:
                raise
            server_error = error
        try:
            found = self.find_posted(partition_key, oldest=started - CLOCK_SKEW_S)
        except (SlackApiError, LookupError, OSError):
            raise server_error from None
        return found or self._post_once(text, blocks, partition_key)

    def _post_once(self, text: str, blocks: list[dict], partition_key: str) -> tuple[str, str]:
        response = self._call("chat.postMessage", lambda: self.client.chat_postMessage(
            channel=self.channel, text=text, blocks=blocks, unfurl_links=False, metadata=briefing_metadata(partition_key)
        ))  # fmt: skip
        channel_id, ts = response.get("channel"), response.get("ts")
        if not isinstance(channel_id, str) or not isinstance(ts, str):  # accepted, but which message is it?
            raise SlackUnreachable("Slack accepted chat.postMessage but its answer names no channel and ts")
        return channel_id, ts

    def update(
        self, channel_id: str, ts: str, text: str, blocks: list[dict], partition_key: str, part: int | None = None
    ) -> None:
        self._call("chat.update", lambda: self.client.chat_update(
            channel=channel_id, ts=ts, text=text, blocks=blocks, metadata=briefing_metadata(partition_key, part)
        ))  # fmt: skip

    def reply(
        self, channel_id: str, thread_ts: str, text: str, blocks: list[dict], partition_key: str, part: int
    ) -> str:
        """Post `part` of the message in its thread; its ts."""
        response = self._call("chat.postMessage", lambda: self.client.chat_postMessage(
            channel=channel_id, thread_ts=thread_ts, text=text, blocks=blocks, unfurl_links=False,
            metadata=briefing_metadata(partition_key, part),
        ))  # fmt: skip
        if not isinstance(ts := response.get("ts"), str):
            raise SlackUnreachable("Slack accepted a reply but its answer names no ts")
        return ts

    def find_reply(self, channel_id: str, thread_ts: str, partition_key: str, part: int) -> str | None:
        """The ts of this part's reply in the message's thread, if Slack has it."""
        wanted = briefing_metadata(partition_key, part)
        pages = self._call("conversations.replies", lambda: _pages(self.client.conversations_replies(
            channel=channel_id, ts=thread_ts, include_all_metadata=True, limit=200
        ), "messages"))  # fmt: skip
        found = [message["ts"] for page in pages for message in page if _is_post(message, wanted)]
        return min(found, key=float) if found else None

    def reactions(self, channel_id: str, ts: str) -> list[dict]:
        """The reactions on one message ({name, users, count} each; scope reactions:read), as
        reactions.get answers them (each as it came: the caller says which it cannot read); an answer
        without a message, or whose reactions are no list, is SlackHistoryUnreadable."""
        response = self._call("reactions.get", lambda: self.client.reactions_get(
            channel=channel_id, timestamp=ts, full=True
        ))  # fmt: skip
        message = response.get("message")
        if not isinstance(message, dict):
            raise SlackHistoryUnreadable("reactions.get answered without a message")
        reactions = message.get("reactions", [])  # a message nobody reacted to has none
        if not isinstance(reactions, list):
            raise SlackHistoryUnreadable(
                f"reactions.get answered reactions that are no list ({type(reactions).__name__})"
            )
        return reactions

    def identity(self) -> dict:
        """Who the token is, as auth.test says (user, team); SlackApiError when Slack refuses the token."""
        return self._call("auth.test", lambda: self.client.auth_test()).data

    def delete(self, channel_id: str, ts: str) -> None:
        self._call("chat.delete", lambda: self.client.chat_delete(channel=channel_id, ts=ts))

    def find_posted(self, partition_key: str, oldest: float) -> tuple[str, str] | None:
        """(channel id, ts) of this partition's briefing posted since `oldest` (epoch seconds), if any."""
        channel_id = self.channel_id()
        wanted = briefing_metadata(partition_key)
        pages = self._call("conversations.history", lambda: _pages(self.client.conversations_history(
            channel=channel_id, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
        ), "messages"))  # fmt: skip
        found = [message["ts"] for page in pages for message in page if _is_post(message, wanted)]
        return (channel_id, min(found, key=float)) if found else None  # the first post is the one kept

    def channel_id(self) -> str:
        """conversations.history wants the channel's id; the config may name it (#overnight)."""
        if _CHANNEL_ID.fullmatch(self.channel):
            return self.channel
        name = self.channel.lstrip("#")
        pages = self._call("conversations.list", lambda: _pages(
            self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True, limit=1000), "channels"
        ))  # fmt: skip
        for page in pages:
            for channel in page:
                if isinstance(channel, dict) and channel.get("name") == name and isinstance(channel.get("id"), str):
                    return channel["id"]
        raise LookupError(f"channel {self.channel} not found by conversations.list")

    def _call(self, method: str, call: Callable[[], Result]) -> Result:
        """The call's result within the deadline. Past it the call is abandoned: its thread is left to
        end on its own (urllib gives no socket to cut) and retries nothing, and this poster is done."""
        if self._gave_up.is_set():
            raise SlackUnreachable(f"{method} not tried: an earlier call got no answer within {self.deadline_s:g} s")
        try:
            return call_within(self.deadline_s, call, f"slack-{method}")
        except PastDeadline:
            self._gave_up.set()
            raise SlackUnreachable(f"Slack gave no complete answer to {method} within {self.deadline_s:g} s") from None
        except Exception as error:  # noqa: BLE001 - made into what the delivery handles
            raise _readable(error, method) from None


def _pages(response, key: str) -> list[list]:
    """Each page's list under `key`, following next_cursor for MAX_PAGES pages at most; a page
    without such a list (junk), or more pages (a cursor sent round in a loop), is SlackHistoryUnreadable."""
    pages = []
    for page in response:  # SlackResponse follows next_cursor page by page
        items = page.get(key) if isinstance(page.data, dict) else None
        if not isinstance(items, list):
            raise SlackHistoryUnreadable(f"{page.api_url.rsplit('/', 1)[-1]} answered without a list of {key}")
        pages.append(items)
        if len(pages) == MAX_PAGES:
            raise SlackHistoryUnreadable(f"more than {MAX_PAGES} pages of {key}: not read to the end")
    return pages


def _is_post(message, wanted: dict) -> bool:
    if not isinstance(message, dict) or message.get("metadata") != wanted:
        return False
    try:
        return float(message["ts"]) >= 0
    except (KeyError, TypeError, ValueError):
        return False


def _readable(error: BaseException, method: str) -> BaseException:
    """What the delivery handles: Slack's refusal (SlackApiError) with its error text redacted, a
    history it cannot read (SlackHistoryUnreadable), an OSError, or a SlackUnreachable saying what
    could not be read."""
    if isinstance(error, SlackApiError):
        data = getattr(error.response, "data", None)
        if isinstance(data, dict) and "error" in data:
            data["error"] = _redacted(str(data["error"]))
        error.args = (_redacted(str(error)),)
        return error
    if isinstance(error, (SlackHistoryUnreadable, OSError)):
        return error  # a timeout, a refused or reset connection; its text names no answer
    text = str(error).strip()
    detail = _redacted(text.splitlines()[0] if text else "")[:200]
    return SlackUnreachable(f"Slack's answer to {method} could not be read ({type(error).__name__}: {detail})")
