"""The value types of overnight.yaml: what a number, a URL, a variable name or a duration must be.

A value a later step would fail on (a port out of range, a URL its client cannot use, "yes" for a
number) fails at load, with a message that says what was expected. Path and URL types carry their
`keys` marker, so the loader finds every such key by walking the schema.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator

from overnight_assets.config.keys import PATH, URL
from overnight_assets.secret_urls import redact_text


class FromEnvironment(str):
    """Text a `${NAME}` reference produced: the one place a number may arrive as a string."""


def _number_from_environment(value: Any) -> Any:
    if isinstance(value, FromEnvironment):
        for parse in (int, float):
            try:
                return parse(value)
            except ValueError:
                pass
    return value


Int = Annotated[int, BeforeValidator(_number_from_environment)]
Float = Annotated[float, BeforeValidator(_number_from_environment)]
ConfigPath = Annotated[str, PATH]  # relative: read from the config file's folder; `~` expanded


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


def http_url(example: str, **options) -> Any:
    """The type of an http(s) URL key; its error message shows `example`."""
    rule = _UrlRule(f"an http(s) URL such as {example!r}", ("http", "https"), **options)
    return Annotated[str, AfterValidator(rule), URL]


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

FeedUrl = Annotated[str, AfterValidator(_feed_url), PATH, URL]  # a path when it has no "://"
GitUrl = Annotated[str, AfterValidator(_git_url), URL]
DockerUrl = Annotated[str, AfterValidator(_DOCKER_URL), URL]

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


KeepAlive = Annotated[str, BeforeValidator(_ollama_duration)]


def _validate_cron(value: str) -> str:
    from dagster._utils.schedules import is_valid_cron_string  # the same check the daemon applies

    if not is_valid_cron_string(value):
        raise ValueError(f"expected a 5-field cron expression such as '0 3 * * *', got {value!r}")
    return value


Cron = Annotated[str, AfterValidator(_validate_cron)]


def _calendar_date(value: Any) -> datetime.date:
    """YAML reads 2026-11-20 as a date; `${NAME}` and quotes give text, read as ISO YYYY-MM-DD."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:  # 2026-02-30
            pass
    shown = value if isinstance(value, datetime.datetime) else repr(value)
    raise ValueError(f"expected a date as YYYY-MM-DD such as 2026-11-01, got {shown}")


Day = Annotated[datetime.date, BeforeValidator(_calendar_date)]


def _clock_time(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads an unquoted 12:30 as 750 (base 60)
        raise ValueError(f'expected a time of day in quotes such as "07:30", got the number {value} (quote it)')
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f'expected a time of day as "HH:MM" (24-hour) such as "07:30", got {value!r}')
    return value


ClockTime = Annotated[str, BeforeValidator(_clock_time)]  # "HH:MM" on the config timezone's wall clock
