"""The Dagster resources: thin wrappers that hand each asset a plain client.

The clients themselves (cortex.py, llm.py, slack.py, ...) import no dagster, so domain logic
can use them and stay plain Python.
"""

import os
import socket
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from overnight_assets.config import OvernightConfig
from overnight_assets.resources.cortex import LOCK_WAIT_S, Cortex
from overnight_assets.resources.cortex_wire import ServerAddress
from overnight_assets.resources.json_io import JsonIOManager
from overnight_assets.resources.llm import LLMSession, OllamaCalls
from overnight_assets.secret_urls import redact_url, with_credentials

CORTEX_MACHINE_TAG = "overnight/cortex-machine"  # set on a distributed run: the machine whose Cortex it writes
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # one per running kernel: containers on one machine share it


class CortexElsewhereError(RuntimeError):
    pass


def this_machine() -> str | None:
    """ "host=<name> boot=<kernel boot id>", None where the kernel says no boot id (not Linux)."""
    try:
        return f"host={socket.gethostname()} boot={BOOT_ID.read_text().strip()}"
    except OSError:
        return None


def cortex_elsewhere(cortex_machine: str | None, here: str | None) -> str | None:
    """Why a step here must not open Cortex: DuckDB's lock holds between processes of one kernel only, so a
    second machine writing the file (over a network file system, or a copy of its own) breaks or forks it."""
    if not cortex_machine or not here:
        return None
    owner, this = (dict(part.partition("=")[::2] for part in text.split()) for text in (cortex_machine, here))
    if owner.get("boot") == this.get("boot"):
        return None
    return (
        f"Cortex (a DuckDB file) is written on {owner.get('host')} for this run, and this step runs on "
        f"{this.get('host')}: DuckDB allows writers of one machine only. Serve Cortex from that machine "
        "(`overnight cortex serve`) and set memory.server_url in both hosts' configs, or run the Celery workers "
        "of steps that use Cortex on that machine (README: The GPU on another machine)"
    )


class CortexResource(dg.ConfigurableResource):
    """The Cortex DuckDB file under `home`, or its server (`server_url`); a wait for another process's lock
    is said in the run's log. A step of a distributed run on another machine than the run's Cortex file
    fails here, before any write; with a server, steps may run anywhere."""

    path: str
    lock_wait_s: float = LOCK_WAIT_S
    server_url: str | None = None
    server_token_env: str = "OVERNIGHT_CORTEX_TOKEN"
    _log = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._log = context.log
        run = context.run
        if self.server_url is None and (
            why := cortex_elsewhere(run.tags.get(CORTEX_MACHINE_TAG) if run else None, this_machine())
        ):
            raise CortexElsewhereError(why)

    def get(self, lock_wait_s: float | None = None) -> Cortex:
        """`lock_wait_s`: a shorter wait than the resource's (a sensor's tick must end in time)."""
        server = ServerAddress(self.server_url, self.server_token_env) if self.server_url else None
        on_wait = self._log.warning if self._log else None
        return Cortex(self.path, lock_wait_s=lock_wait_s or self.lock_wait_s, on_wait=on_wait, server=server)


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
    memory = config.memory
    cortex = CortexResource(
        path=str(config.paths.cortex),
        lock_wait_s=memory.lock_wait_s,
        server_url=memory.server_url,
        server_token_env=memory.server_token_env,
    )
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
