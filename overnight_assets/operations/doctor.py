"""`overnight doctor`: is this host ready for tonight? One check per part the chain needs, each
saying ok, warning or broken and, when not ok, what to fix.

Every outside call has a deadline of its own (`timeout_s`), so the doctor ends in seconds even when
Ollama or Slack hangs. No check prints a secret: the Slack token and URL passwords never appear.
The daemon's heartbeats come from the Dagster instance; this module stays plain Python, so the
caller hands in the function that reads them (the command line reads the instance at DAGSTER_HOME).

With `expect_briefing`, one more check works as a dead-man's switch for when the daemon itself is
down (run from a systemd timer or cron): the morning message of the last night whose delivery time
has passed was delivered, as Cortex's `deliveries` table records it.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock
from enum import StrEnum
from pathlib import Path

import yaml

from overnight_assets.config import ConfigError, OvernightConfig, load_config, resolve_config_path
from overnight_assets.config.loader import BUNDLED_DEMO_CONFIG
from overnight_assets.deadlines import PastDeadline, call_within
from overnight_assets.local_files import open_regular_file
from overnight_assets.redaction import redact_secrets
from overnight_assets.secret_urls import redact_text

OUTSIDE_CALL_S = 5.0  # the default deadline of each call to Ollama, Slack, Docker
INSTANCE_READ_S = 30.0  # loading dagster and opening the instance take seconds on a busy host
CORTEX_LOCK_WAIT_S = 10.0  # the chain holds Cortex for short units of work
HEARTBEAT_INTERVAL_S = 30.0  # dagster-daemon writes each daemon's heartbeat this often
HEARTBEAT_LATE_S = 5 * 60.0  # later than this: a warning (the daemon may be stuck)
HEARTBEAT_TOLERANCE_S = 1800.0  # dagster-daemon liveness-check's default (DAGSTER_DAEMON_HEARTBEAT_TOLERANCE)
BRIEFING_BY = clock(8, 0)  # when the morning message is due, by default, in the config's timezone
EXIT_OK, EXIT_BROKEN = 0, 1  # warnings exit 0


class Health(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BROKEN = "broken"


@dataclass(frozen=True)
class Check:
    name: str
    health: Health
    says: str  # a first line, then (rarely) indented details, as `overnight validate` prints an error

    def lines(self) -> list[str]:
        first, *rest = self.says.splitlines() or [""]
        return [f"{self.health.value:<8}{self.name}: {first}", *(f"{'':<8}{line}" for line in rest)]


@dataclass(frozen=True)
class Heartbeat:
    timestamp: float
    error: str | None = None  # the first error the daemon reported with it


@dataclass(frozen=True)
class DaemonState:
    required: list[str]  # the daemon types this instance needs running (scheduler, sensor, ...)
    heartbeats: Mapping[str, Heartbeat]


def exit_code(checks: list[Check]) -> int:
    return EXIT_BROKEN if any(check.health is Health.BROKEN for check in checks) else EXIT_OK


def summary(checks: list[Check]) -> str:
    counts = {health: sum(1 for check in checks if check.health is health) for health in Health}
    return ", ".join(f"{count} {health.value}" for health, count in counts.items())


DEFAULT_DUE = "08:00"  # when alerts.briefing_by is null (no deadline) and no time is given


def examine(
    config_path: str | None,
    environ: Mapping[str, str],
    read_daemon: Callable[[], DaemonState],
    timeout_s: float = OUTSIDE_CALL_S,
    expect_briefing: bool = False,
    briefing_by: clock | None = None,
    now: datetime | None = None,
) -> list[Check]:
    """Every check, in order; those that need the config are left out when it cannot be loaded.
    With `expect_briefing`, the message is due at `briefing_by`, else at `alerts.briefing_by`."""
    config, config_check = _config(config_path)
    checks = [config_check, dagster_home(environ), daemon(environ, read_daemon)]
    if config is None:
        return checks
    checks += [
        ollama(config, timeout_s),
        slack(config, environ, timeout_s),
        docker(config, timeout_s),
        auth_log(config),
        paths(config),
    ]
    if config.memory.server_url:
        checks.append(cortex_server(config, environ, timeout_s))
    if expect_briefing:
        due = briefing_by or parse_clock(config.alerts.briefing_by or DEFAULT_DUE)
        checks.append(briefing(config, environ, due, now or datetime.now(config.tz)))
    return checks


def _config(path: str | None) -> tuple[OvernightConfig | None, Check]:
    try:
        config = load_config(path)
    except ConfigError as error:
        return None, Check("config", Health.BROKEN, str(error))
    if Path(config.source) == BUNDLED_DEMO_CONFIG:
        hint = "no --config, $OVERNIGHT_CONFIG or ./overnight.yaml: set OVERNIGHT_CONFIG to your overnight.yaml"
        return config, Check("config", Health.WARNING, f"the bundled demo config is used ({hint})")
    return config, Check("config", Health.OK, f"{resolve_config_path(path)} is valid")


def dagster_home(environ: Mapping[str, str]) -> Check:
    """DAGSTER_HOME names a folder whose dagster.yaml limits the pools (the `gpu` pool to one step)."""
    home = environ.get("DAGSTER_HOME")
    if not home:
        return Check(
            "dagster_home", Health.BROKEN, "DAGSTER_HOME is not set: point it at the folder of your dagster.yaml"
        )
    instance_yaml = Path(home) / "dagster.yaml"
    if not instance_yaml.is_file():
        return Check(
            "dagster_home", Health.BROKEN, f"no {instance_yaml}: copy the repository's dagster.yaml into {home}"
        )
    try:
        settings = yaml.safe_load(instance_yaml.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return Check("dagster_home", Health.BROKEN, f"cannot read {instance_yaml}: {_said(error)}")
    pools = (settings.get("concurrency") or {}).get("pools") or {} if isinstance(settings, dict) else {}
    limit = pools.get("default_limit") if isinstance(pools, dict) else None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        return Check(
            "dagster_home",
            Health.BROKEN,
            f"{instance_yaml} sets no pool limit (concurrency.pools.default_limit): the gpu pool is unlimited and "
            "LLM steps would share the GPU; copy `concurrency:` from the repository's dagster.yaml",
        )
    if limit > 1:
        return Check(
            "dagster_home",
            Health.WARNING,
            f"{instance_yaml} lets {limit} steps use the gpu pool at once: set concurrency.pools.default_limit to 1",
        )
    return Check("dagster_home", Health.OK, f"{instance_yaml}: the gpu pool is limited to 1 step")


def daemon(environ: Mapping[str, str], read_daemon: Callable[[], DaemonState], now: float | None = None) -> Check:
    """Each daemon the instance needs wrote a heartbeat lately, as `dagster-daemon liveness-check` asks
    (older than its tolerance: broken), and more strictly (a few minutes: a warning)."""
    home = environ.get("DAGSTER_HOME")
    if not home or not (Path(home) / "dagster.yaml").is_file():  # opening an instance there would make one
        return Check("daemon", Health.WARNING, "not checked: no instance (see dagster_home)")
    try:
        state = call_within(INSTANCE_READ_S, read_daemon, "doctor-instance")
    except PastDeadline:
        return Check(
            "daemon", Health.BROKEN, f"the instance at DAGSTER_HOME gave no answer within {INSTANCE_READ_S:g} s"
        )
    except Exception as error:  # noqa: BLE001 - whatever the instance raises is said in one line
        return Check("daemon", Health.BROKEN, f"cannot read the instance at DAGSTER_HOME: {_said(error)}")
    return daemon_health(state, time.time() if now is None else now)


def daemon_health(state: DaemonState, now: float) -> Check:
    start = "start `dagster-daemon run -w workspace.yaml` (README: Running it for real)"
    if not state.heartbeats:
        return Check("daemon", Health.BROKEN, f"no daemon has ever run on this instance: {start}")
    missing = [kind for kind in state.required if kind not in state.heartbeats]
    ages = {kind: now - state.heartbeats[kind].timestamp for kind in state.required if kind in state.heartbeats}
    dead = sorted(kind for kind, age in ages.items() if age > HEARTBEAT_INTERVAL_S + HEARTBEAT_TOLERANCE_S)
    if missing or dead:
        said = [f"{kind}: no heartbeat" for kind in missing]
        said += [f"{kind}: last heartbeat {_ago(ages[kind])}" for kind in dead]
        return Check("daemon", Health.BROKEN, f"not running ({', '.join(said)}): {start}")
    late = sorted(kind for kind, age in ages.items() if age > HEARTBEAT_LATE_S)
    if late:
        said = ", ".join(f"{kind} {_ago(ages[kind])}" for kind in late)
        return Check("daemon", Health.WARNING, f"late heartbeats ({said}): stuck or stopped? its log says why")
    errors = {kind: beat.error for kind, beat in state.heartbeats.items() if kind in ages and beat.error}
    if errors:
        kind, error = sorted(errors.items())[0]
        return Check("daemon", Health.WARNING, f"running, but {kind} reports an error: {_safe(error)}")
    oldest = _ago(max(ages.values(), default=0.0))
    return Check("daemon", Health.OK, f"running: {len(ages)} daemons, the oldest heartbeat {oldest}")


def ollama(config: OvernightConfig, timeout_s: float) -> Check:
    from overnight_assets.resources.llm import OllamaCalls
    from overnight_assets.secret_urls import with_credentials

    host = config.llm.host  # the redacted URL: the one ever shown
    try:
        answer = OllamaCalls(with_credentials(host), timeout_s=timeout_s).tags()
    except Exception as error:  # noqa: BLE001 - refused, past the deadline, an error status: all unreachable
        said = f"{type(error).__name__}: {_said(error)}"
        return Check("ollama", Health.BROKEN, f"{host} unreachable ({said}): start Ollama or fix llm.host")
    pulled = {_tagged(getattr(model, "model", None) or "") for model in getattr(answer, "models", None) or []}
    wanted = set(config.llm.models.model_dump().values())
    absent = sorted(name for name in wanted if _tagged(name) not in pulled)
    if absent:
        pulls = "; ".join(f"ollama pull {name}" for name in absent)
        return Check("ollama", Health.BROKEN, f"{host} lacks {', '.join(absent)} (llm.models): {pulls}")
    return Check("ollama", Health.OK, f"{host} answers, with {', '.join(sorted(wanted))}")


def cortex_server(config: OvernightConfig, environ: Mapping[str, str], timeout_s: float) -> Check:
    """memory.server_url set: the Cortex server answers this host with the token of memory.server_token_env."""
    from overnight_assets.resources.cortex_wire import CortexServerError, ServerAddress

    address = ServerAddress(config.memory.server_url, config.memory.server_token_env)
    try:
        channel = address.channel(timeout_s, environ)
        try:
            status, answer = channel.call("/status")
        finally:
            channel.close()
    except CortexServerError as error:  # its message names the variable, never the token
        fix = "start `overnight cortex serve` there, or fix memory.server_url"
        return Check("cortex_server", Health.BROKEN, f"{_said(error)}: {fix}")
    if status != 200:
        return Check("cortex_server", Health.BROKEN, f"{address.url} answered {status}: is it a Cortex server?")
    return Check("cortex_server", Health.OK, f"{address.url} answers: Cortex {answer.get('path')}")


def _tagged(name: str) -> str:
    """Ollama's name for a model: `qwen3.5` is `qwen3.5:latest`."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def slack(config: OvernightConfig, environ: Mapping[str, str], timeout_s: float) -> Check:
    from slack_sdk.errors import SlackApiError

    from overnight_assets.resources.slack import SlackPoster

    variable = config.slack.token_env
    token = environ.get(variable)
    if not token:
        return Check("slack", Health.OK, f"not configured (${variable} unset): messages wait in the outbox")
    where = config.slack.base_url or "Slack"
    try:
        who = SlackPoster(token, config.slack.channel, config.slack.base_url, deadline_s=timeout_s).identity()
    except SlackApiError as error:
        said = _safe(str(error.response.get("error") or _said(error)), token)
        return Check(
            "slack", Health.BROKEN, f"{where} refused the token in ${variable} ({said}): set a valid bot token"
        )
    except Exception as error:  # noqa: BLE001 - SlackUnreachable, an OSError, anything the SDK raises
        return Check("slack", Health.BROKEN, f"{where} unreachable: {_said(error, token)}")
    user, team = _safe(str(who.get("user") or "?"), token), _safe(str(who.get("team") or "?"), token)
    return Check("slack", Health.OK, f"the token in ${variable} is valid: {user} in {team}")


def docker(config: OvernightConfig, timeout_s: float) -> Check:
    collector = config.triage.docker
    if collector is None:
        return Check("docker", Health.OK, "collector disabled (triage.docker: null)")
    url = redact_text(collector.base_url)
    try:
        call_within(timeout_s, lambda: _ping_docker(collector.base_url, timeout_s), "doctor-docker")
    except Exception as error:  # noqa: BLE001 - the SDK's errors, OSErrors and the deadline alike
        hint = _docker_hint(error)
        return Check("docker", Health.BROKEN, f"engine at {url} unreachable ({_said(error)}): {hint}")
    return Check("docker", Health.OK, f"engine at {url} answers")


def _ping_docker(base_url: str, timeout_s: float) -> None:
    import docker as docker_sdk  # at first use, as the collector does

    client = docker_sdk.DockerClient(base_url=base_url, timeout=max(1, int(timeout_s)))
    try:
        client.ping()
    finally:
        client.close()


def _docker_hint(error: Exception) -> str:
    if "permission denied" in str(error).lower():
        return "add this user to the `docker` group, or set triage.docker: null"
    return "start the engine, fix triage.docker.base_url, or set triage.docker: null"


def auth_log(config: OvernightConfig) -> Check:
    collector = config.triage.auth_log
    if collector is None:
        return Check("auth_log", Health.OK, "collector disabled (triage.auth_log: null)")
    try:
        open_regular_file(Path(collector.path).expanduser()).close()
    except OSError as error:
        why = error.strerror or _said(error)
        hint = "on Debian, add this user to the `adm` group" if isinstance(error, PermissionError) else "fix its path"
        return Check(
            "auth_log", Health.BROKEN, f"cannot read {collector.path}: {why}; {hint}, or set triage.auth_log: null"
        )
    return Check("auth_log", Health.OK, f"{collector.path} is readable")


def paths(config: OvernightConfig) -> Check:
    """Home writable (or creatable), and the paths the collectors and code review read present."""
    home = config.paths.home
    broken: list[str] = []
    if not _writable_or_creatable(home):
        broken.append(f"home {home} is not writable")
    disks = config.triage.disk.paths if config.triage.disk else []
    broken += [f"triage.disk: {path} does not exist" for path in disks if not Path(path).expanduser().exists()]
    repos = [repo for repo in config.code_review.repos if repo.path]
    broken += [
        f"code_review: {repo.name} at {repo.path} does not exist" for repo in repos if not Path(repo.path).is_dir()
    ]
    roots = [_glob_root(pattern) for pattern in (config.triage.integrity.paths if config.triage.integrity else [])]
    unwatched = [f"triage.integrity: {root} does not exist (nothing to watch)" for root in roots if not root.exists()]
    if broken:
        return Check("paths", Health.BROKEN, "; ".join(broken + unwatched))
    if unwatched:
        return Check("paths", Health.WARNING, "; ".join(unwatched))
    present = f"{len(disks)} disk, {len(roots)} watched, {len(repos)} repository paths present"
    return Check("paths", Health.OK, f"home {home} writable; {present}")


def _writable_or_creatable(path: Path) -> bool:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def _glob_root(pattern: str) -> Path:
    """The folder a watched glob starts from: `~/.config/mcp/**` watches under ~/.config/mcp."""
    fixed = itertools.takewhile(lambda part: not set(part) & set("*?["), Path(pattern).expanduser().parts)
    return Path(*fixed)


def last_due_night(now: datetime, by: clock) -> tuple[str, datetime]:
    """(partition, deadline): the latest night whose morning message is due by now. The partition
    of date D runs in the night after D, so its message is due on D+1 at `by` (in now's timezone)."""
    today = now.date()
    due_today = datetime.combine(today, by, now.tzinfo)
    night = today - timedelta(days=1 if now >= due_today else 2)
    return night.isoformat(), datetime.combine(night + timedelta(days=1), by, now.tzinfo)


def briefing(config: OvernightConfig, environ: Mapping[str, str], by: clock, now: datetime) -> Check:
    """The dead-man's switch: the last due night's morning message was delivered by its time."""
    import duckdb

    from overnight_assets.resources.cortex import Cortex, CortexLockedError

    night, deadline = last_due_night(now.astimezone(config.tz), by)
    due = f"due {deadline:%Y-%m-%d %H:%M} {config.timezone}"
    sql = "SELECT ts, pending, attempts, last_error FROM deliveries WHERE partition_key = ?"
    try:
        _, rows = Cortex.of(config).query(sql, lock_wait_s=CORTEX_LOCK_WAIT_S, params=[night])
    except (CortexLockedError, OSError) as error:
        return Check("briefing", Health.BROKEN, f"the morning message of {night} ({due}) cannot be confirmed: {error}")
    except duckdb.Error as error:
        return Check("briefing", Health.BROKEN, f"cannot read deliveries in {config.paths.cortex}: {_said(error)}")
    if not rows:
        rerun = f"see the night's runs in the UI, or `overnight run --date {night}`"
        return Check("briefing", Health.BROKEN, f"no morning message of {night} was composed ({due}): {rerun}")
    ts, pending, attempts, last_error = rows[0]
    if ts is None:
        if not environ.get(config.slack.token_env):
            return Check(
                "briefing",
                Health.WARNING,
                f"the morning message of {night} waits in the outbox: Slack is not configured",
            )
        why = f", last error: {_safe(last_error)}" if last_error else ""
        return Check(
            "briefing",
            Health.BROKEN,
            f"the morning message of {night} was not delivered ({due}; {attempts} attempts{why}); it waits in the outbox",
        )
    delivered = datetime.fromtimestamp(float(ts), config.tz)  # a Slack ts is the post's time
    when = f"delivered {delivered:%Y-%m-%d %H:%M}"
    if delivered > deadline:
        return Check("briefing", Health.WARNING, f"the morning message of {night} was late: {when}, {due}")
    return Check("briefing", Health.OK, f"the morning message of {night} was {when}, {due}")


def parse_clock(text: str) -> clock:
    """HH:MM, as --by takes it."""
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        return clock(hours, minutes)
    except ValueError:
        raise ValueError(f"expected a time as HH:MM, got {text!r}") from None


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _said(error: BaseException, *secrets: str) -> str:
    """An error's first line, safe to show (see _safe)."""
    text = str(error).strip()
    return _safe(text.splitlines()[0] if text else type(error).__name__, *secrets)


def _safe(text: str, *secrets: str) -> str:
    """Text from outside, shown without a URL's password or a secret-shaped string, and without `secrets`."""
    text = redact_secrets(redact_text(text))
    for secret in secrets:
        text = text.replace(secret, "***")
    return text[:300]
