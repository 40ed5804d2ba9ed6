"""The overnight.yaml schema and loader: validated once, every error names file, key and expectation.

The keys are a public contract (DESIGN.md): add keys freely, rename none. Relative paths are
resolved against the config file's folder; `${NAME}` (or `${NAME:-default}`) in any string reads
an environment variable, and a named variable that is unset is an error. Secrets never sit in
the file: it names the variables that hold them (`slack.token_env`).
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BUNDLED_DEMO_CONFIG = Path(__file__).parent / "demo" / "overnight.yaml"
CONFIG_ENV = "OVERNIGHT_CONFIG"
HOME_ENV = "OVERNIGHT_HOME"


class ConfigError(ValueError):
    """A config file that cannot be used; the message names file, key path and expectation."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _validate_cron(value: str) -> str:
    from dagster._utils.schedules import is_valid_cron_string  # the same check the daemon applies

    if not is_valid_cron_string(value):
        raise ValueError(f"expected a 5-field cron expression such as '0 3 * * *', got {value!r}")
    return value


class Schedules(_Strict):
    nightly: str = "0 3 * * *"
    weekly: str = "0 5 * * 0"

    _check_cron = field_validator("nightly", "weekly")(_validate_cron)


class LLMModels(_Strict):
    triage: str = "qwen3.5"
    summarize: str = "gemma4"
    review: str = "qwen3.5"


class LLMConfig(_Strict):
    host: str = "http://127.0.0.1:11434"
    models: LLMModels = LLMModels()
    timeout_s: float = Field(600, gt=0)
    keep_alive: str = "30m"
    on_unavailable: Literal["fallback", "fail"] = "fallback"


class SlackConfig(_Strict):
    channel: str = "#overnight"
    token_env: str = "SLACK_BOT_TOKEN"
    base_url: str | None = None


class UIConfig(_Strict):
    base_url: str = "http://127.0.0.1:3000"  # the Dagster UI, for links to runs in the briefing


class DockerCollector(_Strict):
    base_url: str = "unix:///var/run/docker.sock"


class AuthLogCollector(_Strict):
    path: str = "/var/log/auth.log"
    failed_login_threshold: int = Field(10, ge=1)


class PortsCollector(_Strict):
    proc_net: str = "/proc/net"
    allowed: list[str] = ["tcp/22", "tcp/443"]

    @field_validator("allowed")
    @classmethod
    def _protocol_slash_port(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"(tcp|udp)/\d{1,5}", value):
                raise ValueError(f"expected entries like 'tcp/22' or 'udp/53', got {value!r}")
        return values


class IntegrityCollector(_Strict):
    paths: list[str] = ["~/.config/mcp/**"]


class DiskCollector(_Strict):
    paths: list[str] = ["/"]
    amber_pct: float = Field(85, gt=0, le=100)
    red_pct: float = Field(95, gt=0, le=100)

    @model_validator(mode="after")
    def _amber_below_red(self) -> DiskCollector:
        if self.amber_pct >= self.red_pct:
            raise ValueError(f"expected amber_pct below red_pct, got {self.amber_pct} >= {self.red_pct}")
        return self


class DagsterRunsCollector(_Strict):
    lookback_hours: float = Field(24, gt=0)


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
    weight: float = 1.0
    keywords: list[str] = []


class Source(_Strict):
    name: str
    kind: Literal["feed", "github_trending"] = "feed"
    url: str
    weight: float = 1.0


class ArxivConfig(_Strict):
    queries: list[str] = []
    max_results: int = Field(100, ge=1)
    api_url: str | None = None
    keep: int = Field(10, ge=1)
    delay_s: float = Field(3.0, ge=0)  # between requests; arXiv's terms of use ask for 3 s
    num_retries: int = Field(3, ge=0)


class FetchConfig(_Strict):
    timeout_s: float = Field(20, gt=0)
    max_bytes: int = Field(5_000_000, ge=1024)
    max_redirects: int = Field(5, ge=0)
    user_agent: str = "overnight_assets/0.1 (self-hosted reading list)"


class ReadingConfig(_Strict):
    interests: list[Interest] = []
    digest_size: int = Field(15, ge=1)
    sources: list[Source] = []
    fetch: FetchConfig = FetchConfig()
    arxiv: ArxivConfig = ArxivConfig()

    @field_validator("sources")
    @classmethod
    def _distinct_names_and_urls(cls, sources: list[Source]) -> list[Source]:
        return _distinct(sources, "source", ("name", "url"))  # outcomes are per name, fetches per URL


class Repo(_Strict):
    name: str
    path: str | None = None
    url: str | None = None
    branch: str | None = None

    @model_validator(mode="after")
    def _path_or_url(self) -> Repo:
        if (self.path is None) == (self.url is None):
            raise ValueError("expected exactly one of 'path' or 'url'")
        return self


class CodeReviewConfig(_Strict):
    repos: list[Repo] = []
    max_diff_lines: int = Field(1500, ge=1)
    large_file_kb: int = Field(1024, ge=1)  # a committed file over this size is a finding
    max_llm_reviews: int = Field(60, ge=0)  # commits reviewed by the LLM per run, riskiest first

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
    retention_days: int = Field(90, ge=1)
    prune_below: float = Field(0.1, ge=0)


class WatchItem(_Strict):
    name: str
    pypi: str | None = None
    npm: str | None = None
    github: str | None = None


class WeeklyConfig(_Strict):
    watch: list[WatchItem] = []


class OvernightConfig(_Strict):
    timezone: str = "UTC"
    home: str = "~/.overnight"
    schedules: Schedules = Schedules()
    llm: LLMConfig = LLMConfig()
    slack: SlackConfig = SlackConfig()
    ui: UIConfig = UIConfig()
    triage: TriageConfig = TriageConfig()
    reading: ReadingConfig = ReadingConfig()
    code_review: CodeReviewConfig = CodeReviewConfig()
    memory: MemoryConfig = MemoryConfig()
    weekly: WeeklyConfig = WeeklyConfig()
    source: str = Field("<defaults>", exclude=True)  # the file this was read from

    @field_validator("timezone")
    @classmethod
    def _iana_name(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA timezone such as 'Europe/Bucharest', got {value!r}")
        return value

    @cached_property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_PATH_KEYS = (
    ("home",),
    ("triage", "auth_log", "path"),
    ("triage", "ports", "proc_net"),
)
_PATH_LIST_KEYS = (("triage", "integrity", "paths"), ("triage", "disk", "paths"))
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def resolve_config_path(path: str | os.PathLike | None = None) -> Path:
    """--config, then $OVERNIGHT_CONFIG, then ./overnight.yaml, then the bundled demo config."""
    if path:
        return Path(path)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    if Path("overnight.yaml").exists():
        return Path("overnight.yaml")
    return BUNDLED_DEMO_CONFIG


def load_config(path: str | os.PathLike | None = None) -> OvernightConfig:
    config_path = resolve_config_path(path)
    raw = _read_yaml(config_path)
    raw = _expand_env(raw, config_path, ())
    _apply_env_overrides(raw)
    _resolve_relative_paths(raw, config_path.parent.resolve())
    try:
        return OvernightConfig(**raw, source=str(config_path))
    except ValidationError as error:
        raise ConfigError(_describe(error, config_path)) from None


def _read_yaml(config_path: Path) -> dict[str, Any]:
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{config_path}: cannot read the config file: {error.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{config_path}{where}: not valid YAML: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    return raw


def _expand_env(value: Any, config_path: Path, key_path: tuple) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, config_path, (*key_path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, config_path, (*key_path, i)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{config_path}: {_dotted(key_path)}: environment variable {name} is named but not set"
        )

    return _ENV_REF.sub(substitute, value)


def _apply_env_overrides(raw: dict[str, Any]) -> None:
    if os.environ.get("OLLAMA_HOST"):
        llm = raw.setdefault("llm", {}) if isinstance(raw.get("llm", {}), dict) else None
        if llm is not None:
            host = os.environ["OLLAMA_HOST"]
            llm["host"] = host if "://" in host else f"http://{host}"
    if os.environ.get(HOME_ENV):
        raw["home"] = os.environ[HOME_ENV]


def _resolve_relative_paths(raw: dict[str, Any], base: Path) -> None:
    def resolve(value: Any) -> Any:
        if not isinstance(value, str) or "://" in value:
            return value
        return str(base / os.path.expanduser(value))  # an absolute path replaces the base

    for keys in _PATH_KEYS + _PATH_LIST_KEYS:
        parent = _dig(raw, keys[:-1])
        if isinstance(parent, dict) and keys[-1] in parent:
            current = parent[keys[-1]]
            parent[keys[-1]] = [resolve(v) for v in current] if isinstance(current, list) else resolve(current)
    for repo in _dig(raw, ("code_review",), "repos") or []:
        if isinstance(repo, dict) and "path" in repo:
            repo["path"] = resolve(repo["path"])
    for source in _dig(raw, ("reading",), "sources") or []:
        if isinstance(source, dict) and isinstance(source.get("url"), str) and "://" not in source["url"]:
            source["url"] = resolve(source["url"])


def _dig(raw: Any, keys: tuple, last: str | None = None) -> Any:
    for key in (*keys, last) if last else keys:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(key)
    return raw


def _describe(error: ValidationError, config_path: Path) -> str:
    lines = [f"{config_path}: invalid configuration"]
    for problem in error.errors():
        location = _dotted(tuple(part for part in problem["loc"] if not _is_union_branch(part)))
        lines.append(f"  {location}: {_expectation(problem)}")
    return "\n".join(lines)


def _is_union_branch(part: Any) -> bool:
    # pydantic names the branch of `X | None` it tried (e.g. "DockerCollector"); users never wrote it
    return isinstance(part, str) and part[:1].isupper()


def _expectation(problem: dict) -> str:
    kind, got = problem["type"], problem.get("input")
    if kind == "extra_forbidden":
        return "unknown key (check its spelling against overnight.example.yaml)"
    if kind == "missing":
        return "required key is missing"
    message = problem["msg"].removeprefix("Value error, ")
    if kind == "value_error":
        return message
    return f"{message[0].lower()}{message[1:]}, got {got!r}"


def _dotted(key_path: tuple) -> str:
    text = ""
    for part in key_path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "<top level>"
