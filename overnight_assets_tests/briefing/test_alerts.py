"""Each alert reaches the loopback Slack once: a failed run, a RED security triage, a morning
message missing at the configured time; and an alert Slack refused is kept and sent later, once."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from overnight_assets.briefing.delivery import keep_in_outbox
from overnight_assets.briefing.sensors import build_alert_sensors
from overnight_assets.definitions import build_defs
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.dagster_resources import SlackResource
from overnight_assets_tests.testkit.fake_slack import slack_payload_problems

NIGHT = "2026-11-20"
UI = "http://dagster.lan:3000"
NEW_SUDO_USER = "Nov 20 05:00:00 homelab usermod[777]: add 'mallory' to group 'sudo'\n"
SLACK_DOWN = {
    "503 forever": [(503, {"ok": False}, {})] * 20,
    "429 for a day": [(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "86400"})],
}


class Daemon:
    """The daemon's view of the project's sensors: ticks on a real instance, each sensor's cursor
    kept between ticks, the Definitions' resources (Slack retrying fast)."""

    def __init__(self, config, instance, slack_server, clock=None):
        self.config, self.instance, self.cursors = config, instance, {}
        self.defs = build_defs(config)
        self.resources = {
            **self.defs.resources,
            "slack": SlackResource(token_env="OVERNIGHT_TEST_SLACK_TOKEN", base_url=slack_server.url, backoff_s=0.01),
        }
        extra = build_alert_sensors(config.alerts, config.timezone, config.paths, UI, clock) if clock else []
        self.sensors = {sensor.name: sensor for sensor in [*self.defs.sensors, *extra]}

    def tick(self, name: str, forget_cursor: bool = False):
        """One evaluation; forget_cursor: as after a daemon whose sensor state was lost."""
        cursor = None if forget_cursor else self.cursors.get(name)
        repository = self.defs.get_repository_def()
        with dg.build_sensor_context(
            instance=self.instance, cursor=cursor, repository_def=repository, resources=self.resources
        ) as context:
            result = self.sensors[name].evaluate_tick(context)
        self.cursors[name] = result.cursor
        return result


def failed_delivery_run(daemon):
    """A failed run of one of the project's jobs: morning_delivery without its briefing."""
    job = daemon.defs.resolve_job_def("deliver_outbox")
    result = job.execute_in_process(partition_key=NIGHT, instance=daemon.instance, raise_on_error=False)
    assert not result.success
    return result


def test_a_failed_run_posts_its_asset_error_and_link_once(make_config, instance, unused_url, slack_server):
    daemon = Daemon(make_config(unused_url, slack_server.url, ui={"base_url": UI}), instance, slack_server)
    assert daemon.tick("run_failure_alert_sensor").skip_message == "Alerts start with the next failed run"
    result = failed_delivery_run(daemon)

    assert daemon.tick("run_failure_alert_sensor").skip_message == f"Alert alert-run_failed-{result.run_id} sent"
    daemon.tick("run_failure_alert_sensor")
    [post] = slack_server.posts
    text = post["blocks"][0]["text"]["text"]
    assert text.startswith(
        f":rotating_light: *Run of deliver_outbox for {NIGHT} failed*\nmorning_delivery: FileNotFoundError: morning_briefing has no value"
    )
    assert f"<{UI}/runs/{result.run_id}|The run in the Dagster UI>" in text
    assert post["text"].startswith(f"ALERT: Run of deliver_outbox for {NIGHT} failed\nmorning_delivery: ")
    assert slack_payload_problems(slack_server, {f"{UI}/runs/{result.run_id}"}) == []


def test_a_red_triage_alerts_once_however_often_the_sensor_looks(
    make_config, instance, ollama_server, slack_server, host_files
):
    with open(host_files / "auth.log", "a") as log:
        log.write(NEW_SUDO_USER)
    daemon = Daemon(make_config(ollama_server.url, slack_server.url, ui={"base_url": UI}), instance, slack_server)
    assert daemon.tick("security_alert_sensor").skip_message == "No new RED security_triage"
    triage = daemon.defs.get_assets_def("security_triage")
    result = dg.materialize([triage], partition_key=NIGHT, instance=instance, resources=daemon.resources)

    assert daemon.tick("security_alert_sensor").skip_message == f"Alert alert-security_red-{NIGHT} sent"
    assert daemon.tick("security_alert_sensor").skip_message == "No new RED security_triage"
    again = daemon.tick("security_alert_sensor", forget_cursor=True).skip_message  # a daemon that lost its state
    assert again == f"Alert alert-security_red-{NIGHT} was sent or kept before"
    [post] = slack_server.posts
    assert post["text"].startswith(f"ALERT: Security triage RED for the night of {NIGHT}\n")
    assert "mallory" in post["text"] and f"{UI}/runs/{result.run_id}" in post["text"]


def at(day: str, clock_time: str):
    moment = datetime.fromisoformat(f"{day}T{clock_time}").replace(tzinfo=ZoneInfo("Europe/Bucharest"))
    return lambda: moment


def test_no_morning_message_by_the_configured_time_alerts_once_saying_what_is_known(
    make_config, instance, unused_url, slack_server
):
    config = make_config(unused_url, slack_server.url, ui={"base_url": UI}, alerts={"briefing_by": "07:30"})
    early = Daemon(config, instance, slack_server, clock=at("2026-11-21", "07:29"))
    assert early.tick("briefing_deadline_sensor").skip_message.startswith("Before 07:30")
    daemon = Daemon(config, instance, slack_server, clock=at("2026-11-21", "07:31"))
    failed = failed_delivery_run(daemon)
    slack_server.posts.clear()

    assert daemon.tick("briefing_deadline_sensor").skip_message == f"Alert alert-briefing_missing-{NIGHT} sent"
    assert daemon.tick("briefing_deadline_sensor").skip_message == f"The morning message for {NIGHT} was checked today"
    daemon.tick("briefing_deadline_sensor", forget_cursor=True)
    [post] = slack_server.posts
    assert post["text"].startswith(f"ALERT: No morning message for {NIGHT} by 07:30 Europe/Bucharest\n")
    assert "The deliver_outbox run failed (started " in post["text"] and f"{UI}/runs/{failed.run_id}" in post["text"]


def test_a_night_without_any_run_says_so(make_config, instance, unused_url, slack_server):
    config = make_config(unused_url, slack_server.url, alerts={"briefing_by": "07:30"})
    Daemon(config, instance, slack_server, clock=at("2026-11-21", "09:00")).tick("briefing_deadline_sensor")
    [post] = slack_server.posts
    assert "No run for this night started" in post["text"]


def test_a_delivered_morning_message_raises_no_alert(make_config, instance, unused_url, slack_server):
    config = make_config(unused_url, slack_server.url, alerts={"briefing_by": "07:30"})
    cortex = Cortex(config.paths.cortex)
    keep_in_outbox(cortex, config.paths.outbox, NIGHT, "the morning message", [])
    with cortex.connect() as db:
        db.execute("UPDATE deliveries SET ts = '1763700000.000100', channel_id = 'C0OVERNIGHT', pending = FALSE")
    daemon = Daemon(config, instance, slack_server, clock=at("2026-11-21", "07:31"))
    assert daemon.tick("briefing_deadline_sensor").skip_message == f"The morning message for {NIGHT} was delivered"
    assert slack_server.posts == []


def test_the_switch_can_be_turned_off(make_config, unused_url, slack_server):
    defs = build_defs(make_config(unused_url, slack_server.url, alerts={"briefing_by": None}))
    assert "briefing_deadline_sensor" not in {sensor.name for sensor in defs.sensors}


@pytest.mark.parametrize("refusal", SLACK_DOWN.values(), ids=SLACK_DOWN.keys())
def test_alerts_slack_refused_are_kept_and_delivered_by_the_outbox_sensor_once(
    make_config, instance, unused_url, slack_server, refusal
):
    daemon = Daemon(make_config(unused_url, slack_server.url), instance, slack_server)
    daemon.tick("run_failure_alert_sensor")
    before = daemon.cursors["run_failure_alert_sensor"]
    runs = [failed_delivery_run(daemon).run_id for _ in range(2)]
    keys = [f"alert-run_failed-{run_id}" for run_id in runs]
    slack_server.script = list(refusal)

    said = daemon.tick("run_failure_alert_sensor").skip_message
    assert f"Alert {keys[0]} kept in the outbox: " in said
    assert (
        f"Alert {keys[1]} kept in the outbox: Slack refused an alert before it" in said
    )  # not tried: the tick stays short
    assert slack_server.posts == [] and all((daemon.config.paths.outbox / f"{key}.json").exists() for key in keys)
    slack_server.script = []  # Slack is back
    delivered = daemon.tick("outbox_sensor").skip_message
    assert delivered == f"Alerts delivered: {', '.join(sorted(keys))}. No morning message waiting"
    assert daemon.tick("outbox_sensor").skip_message == "Outbox empty"
    daemon.cursors["run_failure_alert_sensor"] = before  # the same failures looked at again
    assert daemon.tick("run_failure_alert_sensor").skip_message.count("was sent or kept before") == 2
    assert sorted(post["metadata"]["event_payload"]["partition"] for post in slack_server.posts) == sorted(keys)
    assert not any((daemon.config.paths.outbox / f"{key}.json").exists() for key in keys)


def test_a_busy_cortex_leaves_the_alert_to_the_next_tick(make_config, instance, unused_url, slack_server, monkeypatch):
    import overnight_assets.briefing.sensors as sensors
    from overnight_assets_tests.testkit.cortex import hold_cortex, release_cortex

    monkeypatch.setattr(sensors, "SENSOR_LOCK_WAIT_S", 0.5)
    daemon = Daemon(make_config(unused_url, slack_server.url), instance, slack_server)
    daemon.tick("run_failure_alert_sensor")
    result = failed_delivery_run(daemon)
    with Cortex(daemon.config.paths.cortex).connect():
        pass  # the file exists, as on any machine past its first night
    writer = hold_cortex(daemon.config.paths.cortex, read_only=False)
    try:
        busy = daemon.tick("run_failure_alert_sensor").skip_message
    finally:
        release_cortex(writer)
    assert busy.startswith("Cortex is busy; the next tick tries again")
    assert daemon.tick("run_failure_alert_sensor").skip_message == f"Alert alert-run_failed-{result.run_id} sent"
    assert len(slack_server.posts) == 1


def test_an_alert_carries_no_secret_and_cannot_ping_or_link():
    from overnight_assets.briefing import alerts

    error = "ValueError: login refused, password=hunter2-x9! for https://me:s3cret@git.lan/x.git <!channel>"
    alert = alerts.run_failed("nightly", "r1", NIGHT, {"code_reviews": error}, "", f"{UI}/runs/r1")
    text, blocks = alert.message()
    shown = text + str(blocks)
    assert "hunter2-x9" not in shown and "s3cret" not in shown and "[redacted password]" in shown
    assert "<!channel>" not in shown and "&lt;" in text and "&lt;" in str(blocks)


def test_what_is_known_of_a_missing_morning_message_is_said_in_words():
    from overnight_assets.briefing.alerts import what_is_known

    known = what_is_known(
        [("nightly", "STARTED", "03:00"), ("nightly", "FAILURE", "02:10")], "HTTP 503, error 'unknown'"
    )
    assert known == [
        "The nightly run is still running (started 03:00).",
        "The nightly run failed (started 02:10).",
        "The message is in the outbox: HTTP 503, error 'unknown'",
    ]
