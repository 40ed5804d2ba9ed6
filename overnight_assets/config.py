"""The overnight.yaml schema and loader: validated once, every error names file, key and expectation.

The keys are a public contract (DESIGN.md): add keys freely, rename none. Relative paths are
resolved against the config file's folder; `${NAME}` (or `${NAME:-default}`) in any string reads
an environment variable, and a named variable that is unset is an error. Secrets never sit in
the file: it names the variables that hold them (`slack.token_env`). A value a later step would
fail on (a port out of range, a URL its client cannot use, "yes" for a number) fails here.
Credentials in URLs are kept by `secret_urls` before validation: the config object, and through
it every Dagster resource and the run's snapshot, holds only the redacted URL.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from overnight_assets.secret_urls import keep_credentials, redact_text

BUNDLED_DEMO_CONFIG = Path(__file__).parent / "demo" / "overnight.yaml"
CONFIG_ENV = "OVERNIGHT_CONFIG"
HOME_ENV = "OVERNIGHT_HOME"


class ConfigError(ValueError):
    """A config file that cannot be used; the message names file, key path and expectation."""


class _Strict(BaseModel):
    # strict: `true` or "600" where a number belongs is an error, not a silent 1 or 600
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class _FromEnvironment(str):
    """Text a `${NAME}` reference produced: the one place a number may arrive as a string."""


def _number_from_environment(value: Any) -> Any:
    if isinstance(value, _FromEnvironment):
        for parse in (int, float):
            try:
                return parse(value)
            except ValueError:
                pass
    return value


Int = Annotated[int, BeforeValidator(_number_from_environment)]
Float = Annotated[float, BeforeValidator(_number_from_environment)]


def _either(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


class _UrlRule:
    """A URL its client can use: scheme, host (or path), a port from 1 to 65535 and no spaces.

    Not pydantic's URL types: they rewrite the text (a trailing '/', a default port), and the
    clients get the URL as the user wrote it.
    """

    def __init__(
        self,
        what: str,
        schemes: tuple[str, ...],
        path_schemes: tuple[str, ...] = (),
        *,
        port_required: bool = False,
        credentials: bool = True,
    ):
        self.what, self.schemes, self.path_schemes = what, schemes, path_schemes
        self.port_required = port_required  # the Docker SDK has no default port
        self.credentials = credentials  # slack_sdk and the Docker SDK cannot use user:password in a URL

    def __call__(self, value: str) -> str:
        if problem := self.problem(value):
            # the loader redacted credentials already; redact_text guards a value that bypassed it
            raise ValueError(f"expected {self.what}, got {redact_text(value)!r}: {problem}")
        return value

    def problem(self, value: str) -> str | None:
        if re.search(r"\s", value):
            return "a URL has no spaces"
        try:
            parts = urlsplit(value)
        except ValueError as error:
            return str(error)
        if "://" not in value or parts.scheme.lower() not in self.schemes:
            return f"it does not start with {_either([f'{scheme}://' for scheme in self.schemes])}"
        try:
            port = parts.port
        except ValueError:
            port = 0
        if parts.scheme.lower() in self.path_schemes:
            return None if parts.path or parts.netloc else "it names no path"
        if not parts.hostname:
            return "it names no host"
        if port == 0:
            return "the port must be a number from 1 to 65535"
        if self.port_required and port is None:
            return "a port is required"
        if not self.credentials and "@" in parts.netloc:
            return "this client takes no user:password in its URL"
        return None


def _http_url(example: str, **options) -> AfterValidator:
    return AfterValidator(_UrlRule(f"an http(s) URL such as {example!r}", ("http", "https"), **options))


def _feed_url(value: str) -> str:
    """A feed's http(s) URL, or a file path (anything without '://')."""
    return value if "://" not in value else _UrlRule("an http(s) URL or a file path", ("http", "https"))(value)


_GIT_URL = _UrlRule(
    "a repository URL git fetches (http(s)://, ssh://, git://, file:// or user@host:path)",
    ("http", "https", "ssh", "git", "file"),
    path_schemes=("file",),
)
# git's scp-like syntax: [user@]host:path, no slash before the colon; `transport::address` is a remote helper
_SCP_LIKE = re.compile(r"(?:[^@/:\s]+@)?[^@/:\s\[\]]+:(?!:)\S+")


def _git_url(value: str) -> str:
    return value if "://" not in value and _SCP_LIKE.fullmatch(value) else _GIT_URL(value)


_DOCKER_URL = _UrlRule(
    "a Docker Engine URL (unix:///path/docker.sock, tcp://host:port or http(s)://host:port)",
    ("unix", "tcp", "http", "https"),
    path_schemes=("unix",),
    port_required=True,
    credentials=False,
)

HttpUrl = Annotated[
    str, _http_url("https://host:port/path")
]  # for a new URL key (the defaults above name their example)
FeedUrl = Annotated[str, AfterValidator(_feed_url)]
GitUrl = Annotated[str, AfterValidator(_git_url)]
DockerUrl = Annotated[str, AfterValidator(_DOCKER_URL)]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A known token's prefix (a GitHub token is a valid variable name too), or long and unspaced.
_TOKEN_PREFIX = re.compile(r"(xox[a-z]|xapp|sk|glpat)-\S{8,}|(gh[opsur]|github_pat)_[A-Za-z0-9_]{20,}")
_LONG_WORD = re.compile(r"\S{20,}")


def _environment_variable_name(value: str) -> str:
    """The name of a variable holding a secret. The message never repeats a bad value: it may be the secret."""
    if _ENV_NAME.fullmatch(value) and not _TOKEN_PREFIX.fullmatch(value):
        return value
    if _TOKEN_PREFIX.fullmatch(value) or _LONG_WORD.fullmatch(value):
        raise ValueError("names an environment variable; this looks like a token itself: put it in the environment")
    raise ValueError(
        "names an environment variable: letters, digits and _, not starting with a digit, such as SLACK_BOT_TOKEN "
        "(the value is not shown, in case it is a secret)"
    )


EnvName = Annotated[str, AfterValidator(_environment_variable_name)]

_KEEP_ALIVE = "a duration Ollama accepts (a Go duration such as '30m' or '1h30m', a number of seconds, or -1 to keep the model loaded)"
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION = re.compile(rf"[-+]?(?:{_GO_DURATION_PART.pattern})+")
_SECONDS_PER_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_LONGEST_GO_DURATION_S = (2**63 - 1) / 1e9  # about 292 years


def _ollama_duration(value: Any) -> str:
    """keep_alive as Ollama's API parses it: a JSON number is seconds (negative: forever), a string
    only a Go duration. The string "-1" or "300" would fail every request, so numbers travel as "<n>s"."""
    text = value if isinstance(value, str) else None
    if text is not None and (text in ("0", "+0", "-0") or _GO_DURATION.fullmatch(text)):
        seconds = sum(float(amount) * _SECONDS_PER_UNIT[unit] for amount, unit in _GO_DURATION_PART.findall(text))
        return _within_go_range(str(text), seconds)
    if text is not None and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)", text):
        value = float(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected {_KEEP_ALIVE}, got {value!r}")
    return "-1s" if value < 0 else _within_go_range(f"{int(value)}s", value)


def _within_go_range(duration: str, seconds: float) -> str:
    if abs(seconds) > _LONGEST_GO_DURATION_S:
        raise ValueError(f"expected {_KEEP_ALIVE}, got {duration!r}: longer than Ollama can hold (about 292 years)")
    return duration


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
    host: Annotated[str, _http_url("http://127.0.0.1:11434")] = "http://127.0.0.1:11434"
    models: LLMModels = LLMModels()
    timeout_s: Float = Field(600, gt=0)
    keep_alive: Annotated[str, BeforeValidator(_ollama_duration)] = "30m"
    on_unavailable: Literal["fallback", "fail"] = "fallback"


class SlackConfig(_Strict):
    channel: str = "#overnight"
    token_env: EnvName = "SLACK_BOT_TOKEN"
    base_url: Annotated[str, _http_url("https://slack.com/api/", credentials=False)] | None = None
    timeout_s: Float = Field(120, gt=0)  # a total deadline per Slack call, retries included


class UIConfig(_Strict):
    base_url: str = "http://127.0.0.1:3000"  # the Dagster UI, for links to runs in the briefing


class DockerCollector(_Strict):
    base_url: DockerUrl = "unix:///var/run/docker.sock"


class AuthLogCollector(_Strict):
    path: str = "/var/log/auth.log"
    failed_login_threshold: Int = Field(10, ge=1)


class PortsCollector(_Strict):
    proc_net: str = "/proc/net"
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
    paths: list[str] = ["~/.config/mcp/**"]


class DiskCollector(_Strict):
    paths: list[str] = ["/"]
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


class Source(_Strict):
    name: str
    kind: Literal["feed", "github_trending"] = "feed"
    url: FeedUrl
    weight: Float = Field(1.0, ge=0)


class ArxivConfig(_Strict):
    queries: list[str] = []
    max_results: Int = Field(100, ge=1)
    api_url: Annotated[str, _http_url("https://export.arxiv.org/api/query")] | None = None
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
    path: str | None = None
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
            raise ValueError(f"expected an IANA timezone such as 'Europe/Bucharest', got {value!r}") from None
        return value

    @cached_property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# "*" walks a list. A source's url is a path when it has no "://".
_PATH_KEYS = (
    ("home",),
    ("triage", "auth_log", "path"),
    ("triage", "ports", "proc_net"),
    ("triage", "integrity", "paths", "*"),
    ("triage", "disk", "paths", "*"),
    ("code_review", "repos", "*", "path"),
    ("reading", "sources", "*", "url"),
)
_URL_KEYS = (
    ("llm", "host"),
    ("slack", "base_url"),
    ("triage", "docker", "base_url"),
    ("reading", "sources", "*", "url"),
    ("reading", "arxiv", "api_url"),
    ("code_review", "repos", "*", "url"),
)
_ENV_OVERRIDES = {("llm", "host"): "OLLAMA_HOST", ("home",): HOME_ENV}
_OLLAMA_PORT = 11434
_UNKNOWN_KEY = "unknown key (check its spelling against overnight.example.yaml)"
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
    overridden = _apply_env_overrides(raw)
    _resolve_relative_paths(raw, config_path.parent.resolve())
    _keep_url_credentials(raw)  # before validation: its errors show the URL without a password
    if "source" in raw:  # the field that records the file, not a key of it
        raise ConfigError(f"{config_path}: invalid configuration\n  source: {_UNKNOWN_KEY}")
    try:
        return OvernightConfig.model_validate({**raw, "source": str(config_path)})
    except ValidationError as error:
        raise ConfigError(_describe(error, config_path, overridden)) from None


def _read_yaml(config_path: Path) -> dict[str, Any]:
    try:
        data = config_path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{config_path}: cannot read the config file: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{config_path}: not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start} (line {line}) "
            "cannot be decoded; save the file as UTF-8"
        ) from None
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
        raise ConfigError(f"{config_path}: {_dotted(key_path)}: environment variable {name} is named but not set")

    expanded = _ENV_REF.sub(substitute, value)
    return _FromEnvironment(expanded) if expanded != value else expanded


def _apply_env_overrides(raw: dict[str, Any]) -> set[tuple]:
    """Apply OLLAMA_HOST and OVERNIGHT_HOME; return the key paths they set, for error messages."""
    overridden = set()
    if os.environ.get("OLLAMA_HOST"):
        llm = raw.setdefault("llm", {}) if isinstance(raw.get("llm", {}), dict) else None
        if llm is not None:
            llm["host"] = _ollama_host(os.environ["OLLAMA_HOST"])
            overridden.add(("llm", "host"))
    if os.environ.get(HOME_ENV):
        raw["home"] = os.environ[HOME_ENV]
        overridden.add(("home",))
    return overridden


def _ollama_host(value: str) -> str:
    """OLLAMA_HOST as Ollama's own clients read it: without a scheme, http and port 11434 (0.0.0.0 is
    port 11434 there, not http's 80)."""
    if "://" in value:
        return value
    url = f"http://{'127.0.0.1' if value.startswith(':') else ''}{value}"
    try:
        if urlsplit(url).port is not None:
            return url
    except ValueError:
        return url  # the validator says what is wrong with it
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{_OLLAMA_PORT}"))


def _slots(node: Any, keys: tuple) -> Iterator[tuple[Any, Any]]:
    """Each (container, key) that a key path names in the raw YAML; "*" walks a list."""
    head, rest = keys[0], keys[1:]
    if head == "*":
        children = list(enumerate(node)) if isinstance(node, list) else []
    else:
        children = [(head, node[head])] if isinstance(node, dict) and head in node else []
    for key, child in children:
        if rest:
            yield from _slots(child, rest)
        else:
            yield node, key


def _resolve_relative_paths(raw: dict[str, Any], base: Path) -> None:
    for keys in _PATH_KEYS:
        for container, key in _slots(raw, keys):
            value = container[key]
            if isinstance(value, str) and "://" not in value:
                container[key] = str(base / os.path.expanduser(value))  # an absolute path replaces the base


def _keep_url_credentials(raw: dict[str, Any]) -> None:
    """Each URL's password stays in this process (`secret_urls`); the config holds the redacted URL."""
    for keys in _URL_KEYS:
        for container, key in _slots(raw, keys):
            if isinstance(container[key], str):
                container[key] = keep_credentials(container[key])


def _describe(error: ValidationError, config_path: Path, overridden: set[tuple] = frozenset()) -> str:
    lines = [f"{config_path}: invalid configuration"]
    for problem in error.errors():
        key_path = tuple(part for part in problem["loc"] if not _is_union_branch(part))
        variable = f" (from ${_ENV_OVERRIDES[key_path]})" if key_path in overridden else ""
        lines.append(f"  {_dotted(key_path)}{variable}: {_expectation(problem)}")
    return redact_text("\n".join(lines))  # no value shown may carry a URL's password


def _is_union_branch(part: Any) -> bool:
    # pydantic names the branch of `X | None` it tried (e.g. "DockerCollector"); users never wrote it
    return isinstance(part, str) and part[:1].isupper()


def _expectation(problem: dict) -> str:
    kind, got = problem["type"], problem.get("input")
    if kind == "extra_forbidden":
        return _UNKNOWN_KEY
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
