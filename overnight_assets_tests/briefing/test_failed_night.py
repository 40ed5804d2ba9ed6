"""A failed section never costs the morning message: the run-failure sensor sends the briefing anyway.

Dagster skips morning_briefing and morning_delivery in a run where a section asset failed; the
sensor launches briefing_after_failure for the partition, composed from what did materialize
and naming what failed (status, the error's first line, the run's link in the UI).
"""

import json
import re
from typing import get_args

import dagster as dg

import overnight_assets.briefing.assets as briefing_assets
from overnight_assets.briefing.failures import FailureState
from overnight_assets.briefing.sensors import AFTER_FAILED_RUN_TAG, no_briefing_needed
from overnight_assets.definitions import build_defs
from overnight_assets_tests.testkit.fake_slack import slack_payload_problems

NIGHT = "2026-11-20"
FAILED_LOGINS = "".join(
    f"Nov 20 04:0{i % 10}:1{i % 10} homelab sshd[900{i}]: Failed password for root from 203.0.113.9 port 4{i:04d} ssh2\n"
    for i in range(12)
)
NEW_SUDO_USER = "Nov 20 05:00:00 homelab usermod[777]: add 'mallory' to group 'sudo'\n"


def steps(result) -> dict[str, str]:
    kinds = ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED")
    return {e.step_key: e.event_type_value for e in result.all_events if e.event_type_value in kinds}


def fail_code_reviews(monkeypatch):
    import overnight_assets.code_review.assets as code_review

    def explode(*args, **kwargs):
        raise RuntimeError("git object store corrupt: bad object HEAD\nsecond line of the error")

    monkeypatch.setattr(code_review, "prepare_night", explode)


def failed_night(defs, instance):
    result = defs.resolve_job_def("nightly").execute_in_process(
        partition_key=NIGHT, instance=instance, raise_on_error=False
    )
    assert not result.success
    return result


class Daemon:
    """The daemon's view of briefing_after_failure_sensor: ticks with a cursor on a real instance,
    so Dagster's own filtering (monitored jobs, events after the cursor) is part of the test."""

    def __init__(self, defs, instance):
        self.defs, self.instance, self.cursor = defs, instance, None
        self.sensor = defs.resolve_sensor_def("briefing_after_failure_sensor")
        assert "Initiating" in self.tick().skip_message

    def tick(self):
        repository = self.defs.get_repository_def()
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor, repository_def=repository) as context:
            result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result


def sensor_answer(defs, instance, result):
    """What the sensor's function answers about one failed run (build_run_status_sensor_context)."""
    sensor = defs.resolve_sensor_def("briefing_after_failure_sensor")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        repository_def=defs.get_repository_def(),
    ).for_run_failure()
    return sensor(context)


def run_requested(defs, instance, request: dg.RunRequest):
    """Launch the request the way the daemon does: its job, partition and tags."""
    job = defs.resolve_job_def(request.job_name or "briefing_after_failure")
    tags = {**request.tags, "dagster/partition": request.partition_key}
    return job.execute_in_process(partition_key=request.partition_key, instance=instance, tags=tags)


def test_a_failed_section_skips_the_briefing_in_its_own_run(
    make_config, instance, ollama_server, slack_server, monkeypatch
):
    """Dagster's behaviour the sensor exists for: a failed upstream skips the briefing in that run."""
    fail_code_reviews(monkeypatch)
    config = make_config(ollama_server.url, slack_server.url)
    result = failed_night(build_defs(config), instance)
    assert steps(result)["code_reviews"] == "STEP_FAILURE" and steps(result)["security_triage"] == "STEP_SUCCESS"
    assert "morning_briefing" not in steps(result) or steps(result)["morning_briefing"] == "STEP_SKIPPED"
    assert not config.paths.briefing(NIGHT).exists() and slack_server.posts == []


def test_the_briefing_goes_out_with_the_verdict_and_names_the_failed_sections(
    make_config, instance, ollama_server, slack_server, monkeypatch, host_files
):
    with open(host_files / "auth.log", "a") as log:
        log.write(NEW_SUDO_USER)
    fail_code_reviews(monkeypatch)
    config = make_config(ollama_server.url, slack_server.url, ui={"base_url": "http://dagster.lan:3000/"})
    defs = build_defs(config)
    daemon = Daemon(defs, instance)
    result = failed_night(defs, instance)

    [request] = daemon.tick().run_requests
    assert request.partition_key == NIGHT and request.tags[AFTER_FAILED_RUN_TAG] == result.run_id
    assert daemon.sensor.job_name == "briefing_after_failure" and request.run_key == f"after-{result.run_id}"
    after = run_requested(defs, instance, request)
    assert after.success
    checks = {e.check_name: e.passed for e in after.get_asset_check_evaluations()}
    assert checks == {"names_every_section": True, "delivered_or_kept": True}  # stand-ins name the failed ones

    briefing = config.paths.briefing(NIGHT).read_text()
    assert briefing.startswith(f"# Morning briefing for {NIGHT}: RED")  # the sudo grant's verdict
    assert "## Security triage: RED" in briefing and "mallory" in briefing
    link = f"http://dagster.lan:3000/runs/{result.run_id}"
    assert (
        f"**Code reviews FAILED**\nRuntimeError: git object store corrupt: bad object HEAD\n[The run in the Dagster UI]({link})"
        in briefing
    )
    assert "second line of the error" not in briefing
    assert f"**Pr digest NOT RUN**\ncode_reviews failed first\n[The run in the Dagster UI]({link})" in briefing
    assert briefing.count("\n## ") == 6  # since yesterday + the five sections: three arrived, two stand-ins

    assert len(slack_server.posts) == 1
    post = slack_server.posts[0]
    assert "Morning briefing 2026-11-20: RED" in post["text"] and "Security triage: RED" in post["text"]
    assert "*Code reviews FAILED*" in str(post["blocks"]) and f"<{link}|The run in the Dagster UI>" in str(
        post["blocks"]
    )
    assert slack_payload_problems(slack_server, {link}) == []  # Slack's syntax, Slack's limits
    materialization = instance.get_latest_materialization_event(dg.AssetKey("morning_briefing")).asset_materialization
    failed_sections = materialization.metadata["failed_sections"].value
    assert failed_sections == "code_reviews (FAILED), pr_digest (NOT RUN)"
    assert set(re.findall(r"\((.+?)\)", failed_sections)) == set(get_args(FailureState))
    sections = json.loads((config.paths.assets / "morning_briefing" / f"{NIGHT}.json").read_text())["sections"]
    assert {s["key"]: s["llm"] for s in sections if s["llm"] == "not run"} == {
        "code_reviews": "not run",
        "pr_digest": "not run",
    }


def test_a_failed_triage_makes_the_morning_red_and_says_so(make_config, instance, unused_url, slack_server, host_files):
    """Ollama down with `on_unavailable: fail` and an attack in the log: the triage step fails. The
    briefing is RED and says the triage FAILED; its own summary falls back rather than failing too."""
    with open(host_files / "auth.log", "a") as log:
        log.write(FAILED_LOGINS)
    config = make_config(unused_url, slack_server.url, llm__on_unavailable="fail")
    defs = build_defs(config)
    result = failed_night(defs, instance)
    assert steps(result)["security_triage"] == "STEP_FAILURE"

    assert run_requested(defs, instance, sensor_answer(defs, instance, result)).success
    briefing = config.paths.briefing(NIGHT).read_text()
    assert briefing.startswith(f"# Morning briefing for {NIGHT}: RED")
    assert "**Security triage FAILED: no security verdict tonight.**" in briefing
    assert "\nLLMUnavailableError: LLM unavailable and llm.on_unavailable is 'fail'" in briefing
    assert "deterministic fallback" in briefing
    assert len(slack_server.posts) == 1 and "Security triage FAILED" in str(slack_server.posts[0]["blocks"])


def test_no_second_briefing_for_a_run_that_delivered_before_failing(make_config, instance, ollama_server, monkeypatch):
    config = make_config(ollama_server.url)
    defs = build_defs(config)
    ok = defs.resolve_job_def("nightly").execute_in_process(partition_key=NIGHT, instance=instance)
    assert "delivered its briefing before it failed" in no_briefing_needed(instance, ok.dagster_run)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(briefing_assets, "deliver_pending", disk_full)
    failed = failed_night(defs, instance)
    assert isinstance(sensor_answer(defs, instance, failed), dg.RunRequest)  # its delivery failed: send it again


def test_only_failed_nightly_runs_get_a_briefing(make_config, instance, ollama_server, monkeypatch):
    fail_code_reviews(monkeypatch)
    defs = build_defs(make_config(ollama_server.url))
    daemon = Daemon(defs, instance)
    assert defs.resolve_sensor_def("briefing_after_failure_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    review = defs.resolve_job_def("code_review").execute_in_process(
        partition_key=NIGHT, instance=instance, raise_on_error=False
    )
    assert not review.success
    assert daemon.tick().run_requests == []
