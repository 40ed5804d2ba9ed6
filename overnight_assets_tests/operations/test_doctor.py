"""`overnight doctor`: each check ok and broken with what to fix, against loopback servers, a temp
DAGSTER_HOME and a real Cortex; exit codes; no secret in the output; the dead-man's switch."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime
from datetime import time as clock
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml
from dagster._daemon.types import DaemonHeartbeat

from overnight_assets.cli import main
from overnight_assets.config import load_config
from overnight_assets.operations import doctor
from overnight_assets.operations.doctor import DaemonState, Health, Heartbeat
from overnight_assets.resources.cortex import Cortex
from overnight_assets_tests.testkit import REPO, poll
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.instances import dagster_daemon
from overnight_assets_tests.testkit.loopback import LoopbackServer, RawReply

TZ = ZoneInfo("Europe/Bucharest")
MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=TZ)  # past 08:00: the night of 2026-11-23 is due
NIGHT = "2026-11-23"


@pytest.fixture
def config_at(tmp_path, host_files):
    """The path of an overnight.yaml for this host, the loopback Ollama and Slack given."""

    def write(llm_url: str, slack_url: str | None = None, **overrides):
        return write_config(tmp_path, host_files, llm_url, slack_url, **overrides)

    return write


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    """A DAGSTER_HOME with the repository's dagster.yaml, set in the environment."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def write_heartbeats(age_s: float, kinds: list[str] | None = None) -> None:
    """Heartbeats as the daemon writes them, `age_s` old, for `kinds` (default: every required daemon)."""
    with dg.DagsterInstance.get() as instance:
        for kind in kinds or instance.get_required_daemon_types():
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - age_s, kind, "daemon-1"))


def delivered(config, partition: str, ts: float | None, last_error: str | None = None) -> None:
    """A row of Cortex's deliveries as the delivery records it: posted (a Slack ts) or still pending."""
    with Cortex(config.paths.cortex).connect() as db:
        db.execute(
            "INSERT INTO deliveries (partition_key, text, blocks, ts, pending, attempts, last_error) "
            "VALUES (?, 'Good morning', '[]', ?, ?, 1, ?)",
            [partition, None if ts is None else f"{ts:.6f}", ts is None, last_error],
        )


def run_doctor(capsys, *args) -> tuple[int, str]:
    code = main(["doctor", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def line_of(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.split()[1:2] == [f"{name}:"])


# --- config and DAGSTER_HOME ---------------------------------------------------------------


def test_an_invalid_config_is_broken_with_the_error_as_validate_says_it(tmp_path, capsys, dagster_home):
    bad = tmp_path / "bad.yaml"
    bad.write_text("llm: {timeout_s: -1}\ntimezon: UTC\n")
    write_heartbeats(0)
    code, output = run_doctor(capsys, "--config", str(bad))
    assert code == doctor.EXIT_BROKEN
    assert line_of(output, "config").startswith(f"broken  config: {bad}: invalid configuration")
    assert "llm.timeout_s: input should be greater than 0" in output and "timezon: unknown key" in output
    assert "ollama:" not in output and "slack:" not in output  # nothing that needs the config is checked
    assert "ok      daemon:" in output


def test_dagster_home_unset_missing_yaml_no_pool_limit_and_a_wide_pool(tmp_path):
    assert doctor.dagster_home({}).says.startswith("DAGSTER_HOME is not set")
    home = tmp_path / "dh"
    home.mkdir()
    missing = doctor.dagster_home({"DAGSTER_HOME": str(home)})
    assert missing.health is Health.BROKEN and "copy the repository's dagster.yaml" in missing.says
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    unlimited = doctor.dagster_home({"DAGSTER_HOME": str(home)})
    assert unlimited.health is Health.BROKEN and "concurrency.pools.default_limit" in unlimited.says
    settings = yaml.safe_load((REPO / "dagster.yaml").read_text())
    settings["concurrency"]["pools"]["default_limit"] = 2
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
    assert doctor.dagster_home({"DAGSTER_HOME": str(home)}).health is Health.WARNING
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    assert doctor.dagster_home({"DAGSTER_HOME": str(home)}) == doctor.Check(
        "dagster_home", Health.OK, f"{home / 'dagster.yaml'}: the gpu pool is limited to 1 step"
    )


# --- the daemon's heartbeats --------------------------------------------------------------


def test_fresh_heartbeats_are_ok_stale_ones_broken(capsys, dagster_home, config_at, ollama_server):
    config = config_at(ollama_server.url)
    write_heartbeats(5)
    code, output = run_doctor(capsys, "--config", str(config))
    assert line_of(output, "daemon").startswith("ok      daemon: running: 6 daemons")  # no asset daemon: dagster.yaml
    assert code == doctor.EXIT_OK, output

    write_heartbeats(2 * 3600, ["SCHEDULER", "SENSOR"])
    code, output = run_doctor(capsys, "--config", str(config))
    daemon_line = line_of(output, "daemon")
    assert daemon_line.startswith("broken  daemon: not running (SCHEDULER: last heartbeat 2.0 h ago")
    assert "SENSOR: last heartbeat" in daemon_line and "start `dagster-daemon run -w workspace.yaml`" in daemon_line
    assert code == doctor.EXIT_BROKEN


def test_a_real_daemon_is_seen_running_and_then_stopped(dagster_home, config_at, ollama_server):
    from overnight_assets.cli import _daemon_state

    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "OVERNIGHT_CONFIG": str(config_at(ollama_server.url))}
    with dagster_daemon(env):
        running = poll(
            lambda: (check := doctor.daemon(env, _daemon_state)).health is Health.OK and check,
            what="every daemon's first heartbeat",
        )
    assert running.says.startswith("running: 6 daemons, the oldest heartbeat")
    two_hours_on = time.time() + 2 * 3600  # as the doctor would see it two hours after the daemon stopped
    stopped = doctor.daemon_health(_daemon_state(), two_hours_on)
    assert stopped.health is Health.BROKEN and "SCHEDULER: last heartbeat 2.0 h ago" in stopped.says


def test_no_heartbeat_at_all_is_broken(dagster_home):
    from overnight_assets.cli import _daemon_state

    check = doctor.daemon({"DAGSTER_HOME": str(dagster_home)}, _daemon_state)
    assert check.health is Health.BROKEN and check.says.startswith("no daemon has ever run on this instance")


def test_a_late_heartbeat_warns_and_a_missing_daemon_type_is_broken():
    now = 1_000_000.0
    late = DaemonState(["SENSOR", "SCHEDULER"], {"SENSOR": Heartbeat(now - 10), "SCHEDULER": Heartbeat(now - 600)})
    assert doctor.daemon_health(late, now).says.startswith("late heartbeats (SCHEDULER 10 min ago)")
    missing = DaemonState(["SENSOR", "SCHEDULER"], {"SENSOR": Heartbeat(now - 10)})
    assert doctor.daemon_health(missing, now).health is Health.BROKEN
    assert "SCHEDULER: no heartbeat" in doctor.daemon_health(missing, now).says
    erring = DaemonState(["SENSOR"], {"SENSOR": Heartbeat(now - 10, "boom at http://u:hunter22@db.lan/x")})
    check = doctor.daemon_health(erring, now)
    assert check.health is Health.WARNING and "boom" in check.says and "hunter22" not in check.says


def test_an_instance_that_cannot_be_read_is_broken_in_one_line_without_its_password(dagster_home):
    def unreadable():
        raise RuntimeError("postgresql://dagster:hunter22@db.lan/dagster: Connection refused\n\tIs the server running?")

    check = doctor.daemon({"DAGSTER_HOME": str(dagster_home)}, unreadable)
    assert check == doctor.Check(
        "daemon",
        Health.BROKEN,
        "cannot read the instance at DAGSTER_HOME: postgresql://***@db.lan/dagster: Connection refused",
    )


def test_no_instance_is_opened_where_dagster_home_has_no_dagster_yaml(tmp_path):
    def opened():
        raise AssertionError("the doctor opened an instance in a folder without dagster.yaml")

    assert doctor.daemon({"DAGSTER_HOME": str(tmp_path)}, opened).says == "not checked: no instance (see dagster_home)"
    assert doctor.daemon({}, opened).health is Health.WARNING


# --- Ollama -------------------------------------------------------------------------------


def test_ollama_with_every_model_is_ok_and_a_missing_model_says_what_to_pull(config_at, ollama_server):
    config = load_config(config_at(ollama_server.url))
    assert doctor.ollama(config, 2).says == f"{ollama_server.url} answers, with gemma4, qwen3.5"
    ollama_server.pulled = ["qwen3.5:latest"]
    check = doctor.ollama(config, 2)
    assert check.health is Health.BROKEN and check.says.endswith("lacks gemma4 (llm.models): ollama pull gemma4")


def test_ollama_unreachable_and_hanging_are_broken_within_the_timeout(config_at, unused_url, ollama_server):
    refused = doctor.ollama(load_config(config_at(unused_url)), 2)
    assert refused.health is Health.BROKEN and refused.says.startswith(f"{unused_url} unreachable (")
    assert refused.says.endswith("start Ollama or fix llm.host")
    ollama_server.hostile = "hang"
    hung = doctor.ollama(load_config(config_at(ollama_server.url)), 0.5)
    assert hung.health is Health.BROKEN and "no answer within 0.5 s" in hung.says


def test_ollama_behind_basic_auth_never_shows_the_password(config_at, ollama_server):
    ollama_server.basic_auth = ("owner", "hunter22pass")
    url = ollama_server.url.replace("http://", "http://owner:hunter22pass@")
    check = doctor.ollama(load_config(config_at(url)), 2)
    assert check.health is Health.OK and "hunter22pass" not in check.says and "***@" in check.says


# --- Slack --------------------------------------------------------------------------------


def test_slack_token_valid_refused_unreachable_and_not_configured(config_at, ollama_server, slack_server, unused_url):
    config = load_config(config_at(ollama_server.url, slack_server.url))
    token = slack_server.token
    valid = doctor.slack(config, {"OVERNIGHT_TEST_SLACK_TOKEN": token}, 2)
    assert valid == doctor.Check(
        "slack", Health.OK, "the token in $OVERNIGHT_TEST_SLACK_TOKEN is valid: overnight in Homelab"
    )
    refused = doctor.slack(config, {"OVERNIGHT_TEST_SLACK_TOKEN": "xoxb-revoked-1234567890"}, 2)
    assert refused.health is Health.BROKEN and "(invalid_auth): set a valid bot token" in refused.says
    assert "xoxb-revoked" not in refused.says
    unset = doctor.slack(config, {}, 2)
    assert unset == doctor.Check(
        "slack", Health.OK, "not configured ($OVERNIGHT_TEST_SLACK_TOKEN unset): messages wait in the outbox"
    )
    gone = doctor.slack(load_config(config_at(ollama_server.url, unused_url)), {"OVERNIGHT_TEST_SLACK_TOKEN": token}, 2)
    assert gone.health is Health.BROKEN and gone.says.startswith(f"{unused_url} unreachable")


def test_a_hanging_slack_is_broken_within_the_timeout(config_at, ollama_server, slack_server):
    slack_server.delay_s = 5
    config = load_config(config_at(ollama_server.url, slack_server.url))
    check = doctor.slack(config, {"OVERNIGHT_TEST_SLACK_TOKEN": slack_server.token}, 0.5)
    assert check == doctor.Check(
        "slack",
        Health.BROKEN,
        f"{slack_server.url} unreachable: Slack gave no complete answer to auth.test within 0.5 s",
    )


def test_a_token_is_never_in_the_output(capsys, dagster_home, config_at, ollama_server, slack_server, monkeypatch):
    config = config_at(ollama_server.url, slack_server.url)
    for token in (slack_server.token, "xoxb-wrong-token-0000"):
        monkeypatch.setenv("OVERNIGHT_TEST_SLACK_TOKEN", token)
        code, output = run_doctor(capsys, "--config", str(config), "--expect-briefing")
        assert token not in output and "slack:" in output


# --- Docker, the auth log, paths ----------------------------------------------------------


def test_docker_engine_answering_is_ok_and_a_missing_socket_broken(config_at, ollama_server, tmp_path):
    def engine(path, headers, body):  # the Engine API's version and ping, as dockerd answers them
        if path == "/version":
            return 200, {"ApiVersion": "1.44", "Version": "25.0.0"}, {}
        return 200, RawReply(b"OK", "text/plain"), {}

    server = LoopbackServer(engine)
    try:
        url = server.url.replace("http://", "tcp://")
        config = load_config(config_at(ollama_server.url, triage__docker={"base_url": url}))
        assert doctor.docker(config, 2) == doctor.Check("docker", Health.OK, f"engine at {url} answers")
    finally:
        server.close()
    socket = f"unix://{tmp_path}/no-docker.sock"
    check = doctor.docker(load_config(config_at(ollama_server.url, triage__docker={"base_url": socket})), 2)
    assert check.health is Health.BROKEN and check.says.startswith(f"engine at {socket} unreachable (")
    assert check.says.endswith("start the engine, fix triage.docker.base_url, or set triage.docker: null")
    assert (
        doctor.docker(load_config(config_at(ollama_server.url)), 2).says == "collector disabled (triage.docker: null)"
    )


def test_auth_log_readable_missing_and_not_a_file(config_at, ollama_server, host_files):
    readable = doctor.auth_log(load_config(config_at(ollama_server.url)))
    assert readable == doctor.Check("auth_log", Health.OK, f"{host_files / 'auth.log'} is readable")
    missing = doctor.auth_log(load_config(config_at(ollama_server.url, triage__auth_log={"path": "/nowhere/auth.log"})))
    assert missing.says == (
        "cannot read /nowhere/auth.log: No such file or directory; fix its path, or set triage.auth_log: null"
    )
    folder = doctor.auth_log(load_config(config_at(ollama_server.url, triage__auth_log={"path": str(host_files)})))
    assert folder.health is Health.BROKEN and "a directory" in folder.says


def test_paths_present_missing_and_unwatched(config_at, ollama_server, tmp_path):
    ok = doctor.paths(load_config(config_at(ollama_server.url)))
    assert ok.health is Health.OK and ok.says.endswith("1 disk, 1 watched, 0 repository paths present")
    gone = load_config(config_at(ollama_server.url, triage__disk={"paths": ["/nowhere/disk"]}))
    assert doctor.paths(gone) == doctor.Check("paths", Health.BROKEN, "triage.disk: /nowhere/disk does not exist")
    unwatched = load_config(config_at(ollama_server.url, triage__integrity={"paths": [f"{tmp_path}/none/**"]}))
    assert doctor.paths(unwatched) == doctor.Check(
        "paths", Health.WARNING, f"triage.integrity: {tmp_path}/none does not exist (nothing to watch)"
    )


# --- the dead-man's switch ----------------------------------------------------------------


def test_the_last_due_night_is_yesterday_after_the_time_and_the_day_before_until_then():
    assert doctor.last_due_night(MORNING, clock(8, 0)) == (NIGHT, datetime(2026, 11, 24, 8, 0, tzinfo=TZ))
    early = datetime(2026, 11, 24, 7, 0, tzinfo=TZ)
    assert doctor.last_due_night(early, clock(8, 0)) == ("2026-11-22", datetime(2026, 11, 23, 8, 0, tzinfo=TZ))


def test_briefing_delivered_in_time_is_ok_late_warns(config_at, ollama_server):
    config = load_config(config_at(ollama_server.url))
    delivered(config, NIGHT, datetime(2026, 11, 24, 6, 12, tzinfo=TZ).timestamp())
    delivered(config, "2026-11-22", datetime(2026, 11, 23, 9, 30, tzinfo=TZ).timestamp())
    env = {"OVERNIGHT_TEST_SLACK_TOKEN": "xoxb-set"}
    assert doctor.briefing(config, env, clock(8, 0), MORNING) == doctor.Check(
        "briefing",
        Health.OK,
        f"the morning message of {NIGHT} was delivered 2026-11-24 06:12, due 2026-11-24 08:00 Europe/Bucharest",
    )
    late = doctor.briefing(config, env, clock(8, 0), datetime(2026, 11, 24, 7, 0, tzinfo=TZ))
    assert late.health is Health.WARNING and late.says.startswith("the morning message of 2026-11-22 was late")


def test_briefing_not_delivered_or_never_composed_is_broken(config_at, ollama_server):
    path = config_at(ollama_server.url)
    config = load_config(path)
    env = {"OVERNIGHT_TEST_SLACK_TOKEN": "xoxb-set"}
    delivered(config, "2026-11-21", datetime(2026, 11, 22, 6, 0, tzinfo=TZ).timestamp())
    never = doctor.briefing(config, env, clock(8, 0), MORNING)
    assert never.health is Health.BROKEN
    assert never.says == (
        f"no morning message of {NIGHT} was composed (due 2026-11-24 08:00 Europe/Bucharest): "
        f"see the night's runs in the UI, or `overnight run --date {NIGHT}`"
    )
    delivered(config, NIGHT, None, last_error="SlackApiError: channel_not_found")
    waiting = doctor.briefing(config, env, clock(8, 0), MORNING)
    assert waiting.says == (
        f"the morning message of {NIGHT} was not delivered (due 2026-11-24 08:00 Europe/Bucharest; 1 attempts, "
        "last error: SlackApiError: channel_not_found); it waits in the outbox"
    )
    outbox_only = doctor.briefing(config, {}, clock(8, 0), MORNING)
    assert outbox_only.health is Health.WARNING and outbox_only.says.endswith("Slack is not configured")


def test_expect_briefing_exits_1_when_the_due_message_is_missing(capsys, dagster_home, config_at, ollama_server):
    path = config_at(ollama_server.url)
    night, deadline = doctor.last_due_night(datetime.now(TZ), clock(0, 0))
    delivered(load_config(path), "2026-01-01", deadline.timestamp() - 86400)  # some other night's message
    write_heartbeats(0)
    code, output = run_doctor(capsys, "--config", str(path), "--expect-briefing", "--by", "00:00")
    assert line_of(output, "briefing").startswith(f"broken  briefing: no morning message of {night} was composed")
    assert code == doctor.EXIT_BROKEN


def test_briefing_without_cortex_is_broken(config_at, ollama_server):
    config = load_config(config_at(ollama_server.url))
    check = doctor.briefing(config, {}, clock(8, 0), MORNING)
    assert check.health is Health.BROKEN
    assert check.says.endswith(f"no Cortex at {config.paths.cortex} yet: no night has run with this home")


# --- the whole command --------------------------------------------------------------------


def test_a_healthy_host_exits_0_and_says_so_in_one_line_each(
    capsys, dagster_home, config_at, ollama_server, slack_server
):
    path = config_at(ollama_server.url, slack_server.url)
    write_heartbeats(1)
    now = datetime.now(TZ)
    night, deadline = doctor.last_due_night(now, clock(0, 0))
    delivered(load_config(path), night, deadline.timestamp() - 60)
    code, output = run_doctor(capsys, "--config", str(path), "--expect-briefing", "--by", "00:00")
    names = [line.split()[1] for line in output.splitlines()[:-1]]
    assert names == [f"{name}:" for name in ("config", "dagster_home", "daemon", "ollama", "slack", "docker",
                                              "auth_log", "paths", "briefing")]  # fmt: skip
    assert all(line.startswith("ok ") for line in output.splitlines()[:-1]), output
    assert output.splitlines()[-1] == "overnight doctor: 9 ok, 0 warning, 0 broken"
    assert code == doctor.EXIT_OK


def test_warnings_alone_exit_0(capsys, dagster_home, config_at, ollama_server, tmp_path):
    path = config_at(ollama_server.url, triage__integrity={"paths": [f"{tmp_path}/none/**"]})
    write_heartbeats(1)
    code, output = run_doctor(capsys, "--config", str(path))
    assert "warning paths:" in output and "broken" not in output.replace("0 broken", "")
    assert code == doctor.EXIT_OK


def test_a_bad_time_for_by_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["doctor", "--expect-briefing", "--by", "8 o'clock"])
    assert exit_.value.code == 2
    assert 'expected a time as HH:MM, got "8 o\'clock"' in capsys.readouterr().err


def test_expect_briefing_without_by_reads_alerts_briefing_by(capsys, dagster_home, config_at, ollama_server):
    path = config_at(ollama_server.url)
    assert load_config(path).alerts.briefing_by == "07:30"  # the documented default
    write_heartbeats(0)
    code, output = run_doctor(capsys, "--config", str(path), "--expect-briefing")
    assert " 07:30 Europe/Bucharest" in line_of(output, "briefing"), output
    assert code == doctor.EXIT_BROKEN  # no Cortex: nothing was ever delivered


def test_a_cortex_server_down_refusing_or_answering_is_said_in_one_line(config_at, ollama_server, unused_url, tmp_path):
    from overnight_assets_tests.testkit.cortex_server import TOKEN_ENV, cortex_server

    token = "the-doctor-cortex-token-0123456789"
    down_at = config_at(ollama_server.url, memory__server_url=unused_url, memory__server_token_env=TOKEN_ENV)
    down = load_config(down_at)
    checks = doctor.examine(str(down_at), {TOKEN_ENV: token}, lambda: None, 2)
    (check,) = [check for check in checks if check.name == "cortex_server"]
    assert check.health is Health.BROKEN and "\n" not in check.says
    assert check.says.startswith(f"the Cortex server at {unused_url} is not reachable")
    assert check.says.endswith("start `overnight cortex serve` there, or fix memory.server_url")
    assert token not in check.says
    unset = doctor.cortex_server(down, {}, 2)
    assert unset.health is Health.BROKEN and f"{TOKEN_ENV} is not set" in unset.says
    with cortex_server(tmp_path / "cortexd", token) as served:
        up = load_config(
            config_at(ollama_server.url, memory__server_url=served.url, memory__server_token_env=TOKEN_ENV)
        )
        assert doctor.cortex_server(up, {TOKEN_ENV: token}, 5).health is Health.OK
        refused = doctor.cortex_server(up, {TOKEN_ENV: "a-wrong-token-of-enough-length"}, 5)
        assert refused.health is Health.BROKEN and f"refused the token in {TOKEN_ENV}" in refused.says
        assert "a-wrong-token" not in refused.says
