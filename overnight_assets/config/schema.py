"""The overnight.yaml schema: one model per section, validated once at load.

The keys are a public contract (DESIGN.md): add keys freely, rename none. Secrets never sit in
the file: it names the variables that hold them (`slack.token_env`). What each value must be is
said by its type (values.py); a path or URL key is marked by its type, and the loader finds it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from overnight_assets.config.paths import Paths
from overnight_assets.config.values import (
    ClockTime,
    ConfigPath,
    Cron,
    Day,
    DockerUrl,
    EnvName,
    FeedUrl,
    Float,
    GitUrl,
    Int,
    KeepAlive,
    http_url,
)


class _Strict(BaseModel):
    # strict: `true` or "600" where a number belongs is an error, not a silent 1 or 600
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# The partitions' first night when the file names none: the start they always had, so an instance
# made before `first_night` existed keeps every night it materialized in its partition set.
DEFAULT_FIRST_NIGHT = date(2026, 1, 1)


class Schedules(_Strict):
    nightly: Cron = "0 3 * * *"
    weekly: Cron = "0 5 * * 0"
    grace_hours: Float = Field(4, gt=0)  # a tick later than this (the machine was off) is skipped, not run
    maintenance: Cron = "0 12 * * 0"  # retention: Sunday noon, when no night is running


class LLMModels(_Strict):
    triage: str = "qwen3.5"
    summarize: str = "gemma4"
    review: str = "qwen3.5"


class LLMConfig(_Strict):
    host: http_url("http://127.0.0.1:11434") = "http://127.0.0.1:11434"
    models: LLMModels = LLMModels()
    timeout_s: Float = Field(600, gt=0)
    keep_alive: KeepAlive = "30m"
    on_unavailable: Literal["fallback", "fail"] = "fallback"


class SlackConfig(_Strict):
    channel: str = "#overnight"
    token_env: EnvName = "SLACK_BOT_TOKEN"
    base_url: http_url("https://slack.com/api/", credentials=False) | None = None
    timeout_s: Float = Field(120, gt=0)  # a total deadline per Slack call, retries included


class UIConfig(_Strict):
    base_url: str = "http://127.0.0.1:3000"  # the Dagster UI, for links to runs in the briefing


class ServeConfig(_Strict):
    """`overnight serve`: the HTTP trigger other machines call (Home Assistant asking for a fresh triage)."""

    bind: str = "127.0.0.1"  # loopback: expose it through a TLS reverse proxy, never bare
    port: Int = Field(8765, ge=1, le=65535)
    token_env: EnvName = "OVERNIGHT_SERVE_TOKEN"  # the variable holding the bearer token; unset: no start
    jobs: list[str] | None = None  # the jobs a token may launch and read; null: every job of the project
    max_body_bytes: Int = Field(16384, ge=256)  # a request body over this is refused with 413, unread


class AlertsConfig(_Strict):
    briefing_by: ClockTime | None = "07:30"  # due by then (config timezone): an alert, a late freshness; null: none


class DockerCollector(_Strict):
    base_url: DockerUrl = "unix:///var/run/docker.sock"


class AuthLogCollector(_Strict):
    path: ConfigPath = "/var/log/auth.log"
    failed_login_threshold: Int = Field(10, ge=1)


class PortsCollector(_Strict):
    proc_net: ConfigPath = "/proc/net"
    allowed: list[str] = ["tcp/22", "tcp/443"]

    @field_validator("allowed")
    @classmethod
    def _protocol_slash_port(cls, values: list[str]) -> list[str]:
        for value in values:
            entry = re.fullmatch(r"(tcp|udp)/(\d{1,5})", value)
            if not entry or not 1 <= int(entry.group(2)) <= 65535:
                raise ValueError(
                    f"expected entries like 'tcp/22' or 'udp/53' with a port from 1 to 65535, got {value!r}"
                )
        return values


class IntegrityCollector(_Strict):
    paths: list[ConfigPath] = ["~/.config/mcp/**"]


class DiskCollector(_Strict):
    paths: list[ConfigPath] = ["/"]
    amber_pct: Float = Field(85, gt=0, le=100)
    red_pct: Float = Field(95, gt=0, le=100)

    @model_validator(mode="after")
    def _amber_below_red(self) -> DiskCollector:
        if self.amber_pct >= self.red_pct:
            raise ValueError(f"expected amber_pct below red_pct, got {self.amber_pct} >= {self.red_pct}")
        return self


class DagsterRunsCollector(_Strict):
    lookback_hours: Float = Field(24, gt=0)


class TriageConfig(_Strict):
    """Each collector may be set to null to disable it."""

    docker: DockerCollector | None = DockerCollector()
    auth_log: AuthLogCollector | None = AuthLogCollector()
    ports: PortsCollector | None = PortsCollector()
    integrity: IntegrityCollector | None = IntegrityCollector()
    disk: DiskCollector | None = DiskCollector()
    dagster_runs: DagsterRunsCollector | None = DagsterRunsCollector()


class Interest(_Strict):
    topic: str
    weight: Float = Field(1.0, ge=0)
    keywords: list[str] = []

    def keyword_pattern(self) -> re.Pattern:
        """Any of the keywords as a whole word, any case: one alternation, a single scan per text. The digest's
        scoring and the weekly habits both ask it, so they agree on what mentions an interest."""
        return re.compile(r"\b(" + "|".join(map(re.escape, self.keywords)) + r")\b", re.IGNORECASE)


class Source(_Strict):
    name: str
    kind: Literal["feed", "github_trending"] = "feed"
    url: FeedUrl
    weight: Float = Field(1.0, ge=0)


class ArxivConfig(_Strict):
    queries: list[str] = []
    max_results: Int = Field(100, ge=1)
    api_url: http_url("https://export.arxiv.org/api/query") | None = None
    keep: Int = Field(10, ge=1)
    delay_s: Float = Field(3.0, ge=0)  # between requests; arXiv's terms of use ask for 3 s
    num_retries: Int = Field(3, ge=0)


class FetchConfig(_Strict):
    timeout_s: Float = Field(20, gt=0)
    max_bytes: Int = Field(5_000_000, ge=1024)
    max_redirects: Int = Field(5, ge=0)
    user_agent: str = "overnight_assets/0.1 (self-hosted reading list)"


class ReadingConfig(_Strict):
    interests: list[Interest] = []
    digest_size: Int = Field(15, ge=1)
    sources: list[Source] = []
    fetch: FetchConfig = FetchConfig()
    arxiv: ArxivConfig = ArxivConfig()

    @field_validator("sources")
    @classmethod
    def _distinct_names_and_urls(cls, sources: list[Source]) -> list[Source]:
        return _distinct(sources, "source", ("name", "url"))  # outcomes are per name, fetches per URL


class Repo(_Strict):
    name: str
    path: ConfigPath | None = None
    url: GitUrl | None = None
    branch: str | None = None

    @model_validator(mode="after")
    def _path_or_url(self) -> Repo:
        if (self.path is None) == (self.url is None):
            raise ValueError("expected exactly one of 'path' or 'url'")
        return self


class CodeReviewConfig(_Strict):
    repos: list[Repo] = []
    max_diff_lines: Int = Field(1500, ge=1)
    max_diff_bytes: Int = Field(200_000, ge=1)  # one line can be megabytes: the byte budget holds too
    large_file_kb: Int = Field(1024, ge=1)  # a committed file over this size is a finding
    max_llm_reviews: Int = Field(60, ge=0)  # commits reviewed by the LLM per run, riskiest first

    @field_validator("repos")
    @classmethod
    def _distinct_names(cls, repos: list[Repo]) -> list[Repo]:
        return _distinct(repos, "repository", ("name",))  # outcomes, mirrors and the sensor's cursor are per name


def _distinct(entries: list, noun: str, keys: tuple[str, ...]) -> list:
    for key in keys:
        values = [getattr(entry, key) for entry in entries if getattr(entry, key) is not None]
        if repeated := sorted({value for value in values if values.count(value) > 1}):
            raise ValueError(f"expected each {noun}'s {key} once, got {', '.join(map(repr, repeated))} more than once")
    return entries


class MemoryConfig(_Strict):
    retention_days: Int = Field(90, ge=1)
    prune_below: Float = Field(0.1, ge=0)
    lock_wait_s: Float = Field(900, gt=0)  # how long a write waits for another process's lock on Cortex
    # the cerebellum (memory/cerebellum.py): Slack reactions (emoji names, as Slack spells them) that mean
    # good or bad for the items of the message they are on, how many nights of messages it reads them
    # on, and how much an untouched weight keeps each night
    good_reactions: list[str] = ["+1", "white_check_mark", "star"]
    bad_reactions: list[str] = ["-1", "x"]
    reaction_nights: Int = Field(3, ge=1)
    decay_per_night: Float = Field(0.98, gt=0, le=1)

    # consolidation (memory/consolidation.py)
    merge_threshold: Float = Field(0.6, gt=0, le=1)  # title similarity from which two memories are one
    merge_window_days: Int = Field(14, ge=1)  # a new memory is compared by similarity with this many days of memory
    compress_after_days: Int = Field(30, ge=1)  # a longer body this old is compressed to its first sentences
    compress_above_chars: Int = Field(1200, ge=600)
    forget_after_days: Int = Field(180, ge=1)  # a memory ended (pruned, merged, compressed) this long ago is deleted
    # Cortex served by `overnight cortex serve` (resources/cortex_server.py), for steps on two hosts
    server_url: http_url("http://dagster-host:8766", credentials=False) | None = None  # None: the file in `home`
    server_token_env: EnvName = "OVERNIGHT_CORTEX_TOKEN"  # the variable holding the server's token

    @model_validator(mode="after")
    def _reactions_mean_one_thing(self) -> MemoryConfig:
        if both := sorted(set(self.good_reactions) & set(self.bad_reactions)):
            raise ValueError(f"expected each reaction in good_reactions or bad_reactions, not both: {', '.join(both)}")
        return self


class RetentionConfig(_Strict):
    """What the weekly maintenance removes (operations/retention.py): finished runs, stale caches, old feed items."""

    runs_days: Int = Field(30, ge=1)  # finished runs older than this go, unless they hold an asset's latest result
    cache_days: Int = Field(30, ge=1)  # llm_cache answers and http_cache validators unused this long
    feed_items_days: Int = Field(90, ge=1)  # feed items gone from their feed this long


class ExecutionConfig(_Strict):
    """Where a run's steps execute: in the run's own process (the default, one host), or on Celery workers
    (dagster-celery), where every step of the `gpu` pool goes to a queue only the GPU host's worker serves."""

    mode: Literal["in_process", "celery"] = "in_process"
    broker_env: EnvName = "CELERY_BROKER_URL"  # the variable holding the broker URL (it may hold a password)
    backend_env: EnvName = "CELERY_RESULT_BACKEND"  # the variable holding the result backend's URL
    gpu_queue: str = Field("gpu", min_length=1)  # the `gpu` pool's steps
    default_queue: str = Field("dagster", min_length=1)  # every other step (dagster-celery's own default)


class WatchItem(_Strict):
    name: str
    pypi: str | None = None
    npm: str | None = None
    github: str | None = None  # owner/repo
    version: str | None = None  # the version in use; null: the installed distribution's (importlib.metadata)

    @field_validator("github")
    @classmethod
    def _owner_slash_repo(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", value):
            raise ValueError(f"expected owner/repo such as 'ollama/ollama', got {value!r}")
        return value


class WeeklyConfig(_Strict):
    watch: list[WatchItem] = []
    pypi_url: http_url("https://pypi.org") = "https://pypi.org"  # <pypi_url>/pypi/<name>/json
    npm_url: http_url("https://registry.npmjs.org") = "https://registry.npmjs.org"  # <npm_url>/<name>
    github_url: http_url("https://github.com") = "https://github.com"  # <github_url>/<owner>/<repo>/releases.atom
    fetch: FetchConfig = FetchConfig(timeout_s=20, user_agent="overnight_assets/0.1 (self-hosted ecosystem watch)")

    @field_validator("watch")
    @classmethod
    def _distinct_names(cls, watch: list[WatchItem]) -> list[WatchItem]:
        return _distinct(watch, "watched project", ("name",))  # outcomes are per name


class OvernightConfig(_Strict):
    timezone: str = "UTC"
    first_night: Day = DEFAULT_FIRST_NIGHT
    home: ConfigPath = "~/.overnight"
    schedules: Schedules = Schedules()
    llm: LLMConfig = LLMConfig()
    slack: SlackConfig = SlackConfig()
    ui: UIConfig = UIConfig()
    alerts: AlertsConfig = AlertsConfig()
    serve: ServeConfig = ServeConfig()
    triage: TriageConfig = TriageConfig()
    reading: ReadingConfig = ReadingConfig()
    code_review: CodeReviewConfig = CodeReviewConfig()
    memory: MemoryConfig = MemoryConfig()
    weekly: WeeklyConfig = WeeklyConfig()
    retention: RetentionConfig = RetentionConfig()
    execution: ExecutionConfig = ExecutionConfig()
    source: str = Field("<defaults>", exclude=True)  # the file this was read from

    @field_validator("timezone")
    @classmethod
    def _iana_name(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA timezone such as 'Europe/Bucharest', got {value!r}") from None
        return value

    @field_validator("first_night")
    @classmethod
    def _first_night_not_ahead(cls, value: date, info: ValidationInfo) -> date:
        # today's partition exists (end_offset=1); a day more allows for a file written ahead of midnight
        timezone = info.data.get("timezone", "UTC")  # validated before: declared first
        latest = datetime.now(ZoneInfo(timezone)).date() + timedelta(days=1)
        if value > latest:
            raise ValueError(f"expected a night no later than tomorrow in {timezone} ({latest}), got {value}")
        return value

    @cached_property
    def paths(self) -> Paths:
        """Where the chain keeps what it writes, under `home`."""
        return Paths(Path(self.home).expanduser())

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
