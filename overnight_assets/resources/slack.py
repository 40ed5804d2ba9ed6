"""Slack through slack-sdk: the token from a named environment variable, retries built in.

429 answers are retried after their Retry-After; 5xx answers and dropped connections with
exponential backoff. The token is read at use time and never logged or put into metadata.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler


class _AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack-sdk retries only 500 and 503; a proxy in front of Slack also answers 502 and 504."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code < 600


class SlackPoster:
    """Posts and updates one channel's messages; raises SlackApiError once retries are spent."""

    def __init__(self, token: str, channel: str, base_url: str | None = None, backoff_s: float = 1.0):
        retry: list[RetryHandler] = [
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            _AnyServerErrorRetryHandler(
                max_retry_count=3, interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=backoff_s)
            ),
        ]
        url = (base_url or WebClient.BASE_URL).rstrip("/") + "/"
        self.client = WebClient(token=token, base_url=url, timeout=30, retry_handlers=retry)
        self.channel = channel

    def post(self, text: str, blocks: list[dict]) -> tuple[str, str]:
        response = self.client.chat_postMessage(channel=self.channel, text=text, blocks=blocks, unfurl_links=False)
        return response["channel"], response["ts"]

    def update(self, channel_id: str, ts: str, text: str, blocks: list[dict]) -> None:
        self.client.chat_update(channel=channel_id, ts=ts, text=text, blocks=blocks)
