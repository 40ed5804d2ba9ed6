"""Reading overnight.yaml: `${ENV}` references, environment overrides, relative paths, URL
credentials, then the schema; every error names the file, the key path and what was expected.

`${NAME}` (or `${NAME:-default}`) in any string reads an environment variable, and a named
variable that is unset is an error. Credentials in URLs are kept by `secret_urls` before
validation: the config object, and through it every Dagster resource and the run's snapshot,
holds only the redacted URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import ValidationError

from overnight_assets.config.keys import EVERY_ITEM, PATH, URL, marked_keys, user_key_path
from overnight_assets.config.schema import OvernightConfig
from overnight_assets.config.values import FromEnvironment
from overnight_assets.secret_urls import keep_credentials, redact_text

BUNDLED_DEMO_CONFIG = Path(__file__).parents[1] / "demo" / "overnight.yaml"
CONFIG_ENV = "OVERNIGHT_CONFIG"
HOME_ENV = "OVERNIGHT_HOME"


class ConfigError(ValueError):
    """A config file that cannot be used; the message names file, key path and expectation."""


_PATH_KEYS = marked_keys(OvernightConfig, PATH)
_URL_KEYS = marked_keys(OvernightConfig, URL)
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
    except ValueError as error:  # PyYAML reads 2026-02-30 as a date and fails to build it
        raise ConfigError(f"{config_path}: not valid YAML: {error} (a date is written YYYY-MM-DD)") from None
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
    return FromEnvironment(expanded) if expanded != value else expanded


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
    """Each (container, key) that a key path names in the raw YAML."""
    head, rest = keys[0], keys[1:]
    for key, child in _children(node, head):
        if rest:
            yield from _slots(child, rest)
        else:
            yield node, key


def _children(node: Any, head: Any) -> list[tuple[Any, Any]]:
    if head != EVERY_ITEM:
        return [(head, node[head])] if isinstance(node, dict) and head in node else []
    if isinstance(node, dict):
        return list(node.items())
    return list(enumerate(node)) if isinstance(node, list) else []


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
        key_path = user_key_path(OvernightConfig, problem["loc"])
        variable = f" (from ${_ENV_OVERRIDES[key_path]})" if key_path in overridden else ""
        lines.append(f"  {_dotted(key_path)}{variable}: {_expectation(problem)}")
    return redact_text("\n".join(lines))  # no value shown may carry a URL's password


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
