"""Slack through slack-sdk: the token from a named environment variable, retries built in.

429 answers are retried after their Retry-After; 5xx answers and dropped connections with
exponential backoff, except a chat.postMessage whose connection broke after it was sent: Slack
may have accepted it, so it is not retried blindly (the next delivery looks for it first). The
token is read at use time and never logged or put into metadata.

Every briefing carries Slack message metadata naming its partition (and, for a reply in its
thread, the part), so a delivery can find its own earlier post in conversations.history or
conversations.replies (scopes: chat:write, channels:history and channels:read; groups:* for a
private channel).
"""

from __future__ import annotations

import re
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler

from overnight_assets.secret_urls import with_credentials

EVENT_TYPE = "overnight_briefing"  # the metadata event type of every morning message
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


class _AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack-sdk retries only 500 and 503; a proxy in front of Slack also answers 502 and 504."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code < 600


class _ConnectionErrorRetryUnlessSent(ConnectionErrorRetryHandler):
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
    """Posts and updates one channel's messages; raises SlackApiError once retries are spent."""

    def __init__(self, token: str, channel: str, base_url: str | None = None, backoff_s: float = 1.0):
        retry: list[RetryHandler] = [
            _ConnectionErrorRetryUnlessSent(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            _AnyServerErrorRetryHandler(
                max_retry_count=3, interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=backoff_s)
            ),
        ]
        url = (with_credentials(base_url) or WebClient.BASE_URL).rstrip("/") + "/"
        self.client = WebClient(token=token, base_url=url, timeout=30, retry_handlers=retry)
        self.channel = channel

    def post(self, text: str, blocks: list[dict], partition_key: str) -> tuple[str, str]:
        response = self.client.chat_postMessage(
            channel=self.channel, text=text, blocks=blocks, unfurl_links=False, metadata=briefing_metadata(partition_key)
        )
        return response["channel"], response["ts"]

    def update(self, channel_id: str, ts: str, text: str, blocks: list[dict], partition_key: str, part: int | None = None) -> None:
        metadata = briefing_metadata(partition_key, part)
        self.client.chat_update(channel=channel_id, ts=ts, text=text, blocks=blocks, metadata=metadata)

    def reply(self, channel_id: str, thread_ts: str, text: str, blocks: list[dict], partition_key: str, part: int) -> str:
        """Post `part` of the message in its thread; its ts."""
        response = self.client.chat_postMessage(
            channel=channel_id, thread_ts=thread_ts, text=text, blocks=blocks, unfurl_links=False,
            metadata=briefing_metadata(partition_key, part),
        )
        return response["ts"]

    def find_reply(self, channel_id: str, thread_ts: str, partition_key: str, part: int) -> str | None:
        """The ts of this part's reply in the message's thread, if Slack has it."""
        wanted = briefing_metadata(partition_key, part)
        pages = self.client.conversations_replies(channel=channel_id, ts=thread_ts, include_all_metadata=True, limit=200)
        found = [message["ts"] for page in pages for message in page.get("messages", []) if message.get("metadata") == wanted]
        return min(found, key=float) if found else None

    def delete(self, channel_id: str, ts: str) -> None:
        self.client.chat_delete(channel=channel_id, ts=ts)

    def find_posted(self, partition_key: str, oldest: float) -> tuple[str, str] | None:
        """(channel id, ts) of this partition's briefing posted since `oldest` (epoch seconds), if any."""
        channel_id = self.channel_id()
        wanted = briefing_metadata(partition_key)
        history = self.client.conversations_history(
            channel=channel_id, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
        )
        found = [
            message["ts"]
            for page in history  # SlackResponse follows next_cursor page by page
            for message in page.get("messages", [])
            if message.get("metadata") == wanted
        ]
        return (channel_id, min(found, key=float)) if found else None  # the first post is the one kept

    def channel_id(self) -> str:
        """conversations.history wants the channel's id; the config may name it (#overnight)."""
        if _CHANNEL_ID.fullmatch(self.channel):
            return self.channel
        name = self.channel.lstrip("#")
        pages = self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True, limit=1000)
        for page in pages:
            for channel in page.get("channels", []):
                if channel.get("name") == name:
                    return channel["id"]
        raise LookupError(f"channel {self.channel} not found by conversations.list")
