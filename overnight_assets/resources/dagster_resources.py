"""The Dagster resources: thin wrappers that hand each asset a plain client.

The clients themselves (cortex.py, llm.py, slack.py, ...) import no dagster, so domain logic
can use them and stay plain Python.
"""

import os

import dagster as dg
from pydantic import PrivateAttr

from overnight_assets.config import OvernightConfig
from overnight_assets.resources.cortex import LOCK_WAIT_S, Cortex
from overnight_assets.resources.json_io import JsonIOManager
from overnight_assets.resources.llm import LLMSession, OllamaCalls
from overnight_assets.secret_urls import redact_url, with_credentials


class CortexResource(dg.ConfigurableResource):
    """The Cortex DuckDB file under `home`; a wait for another process's lock is said in the run's log."""

    path: str
    lock_wait_s: float = LOCK_WAIT_S
    _log = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._log = context.log

    def get(self) -> Cortex:
        return Cortex(self.path, lock_wait_s=self.lock_wait_s, on_wait=self._log.warning if self._log else None)


class LLMResource(dg.ConfigurableResource):
    """Ollama with a model per role; `session()` gives one asset its counted conversation.
    `timeout_s` is a total deadline per call, not httpx's per-read timeout."""

    host: str
    models: dict[str, str]
    timeout_s: float = 600
    keep_alive: str = "30m"
    on_unavailable: str = "fallback"
    cortex: CortexResource

    def session(self) -> LLMSession:
        # `host` is the redacted URL (the loader keeps the credentials in this process only): the
        # client connects with the real one, everything written says the redacted one
        return LLMSession(
            client=OllamaCalls(with_credentials(self.host), self.timeout_s),
            models=dict(self.models),
            keep_alive=self.keep_alive,
            on_unavailable=self.on_unavailable,
            cortex=self.cortex.get(),
            host=redact_url(self.host),
        )


class SlackResource(dg.ConfigurableResource):
    """Slack as configured under `slack:`; `poster()` is None when the token variable is unset."""

    channel: str = "#overnight"
    token_env: str = "SLACK_BOT_TOKEN"
    base_url: str | None = None
    backoff_s: float = 1.0
    timeout_s: float = 120.0  # a total deadline per Slack call, retries included

    def poster(self, deadline_s: float | None = None):  # -> SlackPoster | None
        """`deadline_s`: a shorter deadline per call than `timeout_s` (a sensor's tick must end in time)."""
        token = os.environ.get(self.token_env)  # read at use time; never stored in the snapshot
        if not token:
            return None
        from overnight_assets.resources.slack import SlackPoster  # slack_sdk loads at first use

        deadline_s = min(self.timeout_s, deadline_s or self.timeout_s)
        return SlackPoster(token, self.channel, self.base_url, self.backoff_s, deadline_s)


def build_resources(config: OvernightConfig) -> dict:
    cortex = CortexResource(path=str(config.paths.cortex), lock_wait_s=config.memory.lock_wait_s)
    return {
        "cortex": cortex,
        "llm": LLMResource(
            host=config.llm.host,
            models=config.llm.models.model_dump(),
            timeout_s=config.llm.timeout_s,
            keep_alive=config.llm.keep_alive,
            on_unavailable=config.llm.on_unavailable,
            cortex=cortex,
        ),
        "slack": SlackResource(**config.slack.model_dump()),
        "io_manager": JsonIOManager(base_dir=str(config.paths.assets)),
    }
